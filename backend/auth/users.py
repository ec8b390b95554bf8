"""People who log in: registering residents, creating staff and organisation logins.

Rules live here; callers commit."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.audit import log as audit
from backend.auth import roles as staff_roles
from backend.auth.models import User
from backend.auth.passwords import hash_password
from backend.auth.phones import is_phone, mask, phone_hash
from backend.auth.tokens import Principal
from backend.db import db
from backend.errors import Conflict, Invalid, NotFound, register
from backend.registry import organizations
from backend.runtime import setting


class PhoneTaken(Conflict):
    code, title = "phone_taken", "The phone number is registered already"


class LoginTaken(Conflict):
    code, title = "login_taken", "The login is taken"


# `{kind}_not_found` for a user id of another kind, or of none
for _kind in ("staff", "merchant", "org", "resident"):
    register(404, f"{_kind}_not_found", f"No such {_kind}")


def principal_of(user: User) -> Principal:
    return Principal(
        kind=user.kind,
        id=user.id,
        roles=tuple(user.role_list),
        organization_id=user.organization_id,
        gen=user.token_gen,
    )


def register_resident(phone: str, password: str, display_name: str | None) -> User:
    if not is_phone(phone):
        raise Invalid(errors={"phone": ["Not a mainland mobile number."]})
    key = phone_hash(phone, setting("PII_KEY"))
    if db.session.execute(select(User.id).where(User.phone_hash == key)).first():
        raise PhoneTaken("This phone number is registered already.")
    user = User(
        kind="resident",
        phone_hash=key,
        phone_masked=mask(phone),
        password_hash=hash_password(password),
        display_name=display_name,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_login_user(
    kind: str,
    login: str,
    password: str,
    *,
    roles: list[str] | None = None,
    organization_id: int | None = None,
) -> User:
    if is_phone(login):
        raise Invalid(errors={"login": ["A staff or merchant login may not look like a phone."]})
    if kind == "staff":
        try:
            roles = staff_roles.check(roles or [])
        except ValueError as err:
            raise Invalid(errors={"roles": [str(err)]}) from err
    elif roles:
        raise Invalid(errors={"roles": ["Only staff logins have roles."]})
    if db.session.execute(select(User.id).where(User.login == login)).first():
        raise LoginTaken("This login is taken.")
    user = User(
        kind=kind,
        login=login,
        password_hash=hash_password(password),
        roles=",".join(roles or []),
        organization_id=organization_id,
    )
    db.session.add(user)
    db.session.flush()
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def create_merchant_user(organization_id: int, login: str, password: str) -> int:
    """A till login bound to one merchant organisation."""
    org = organizations.get_of_kind(organization_id, "merchant")
    user = create_login_user("merchant", login, password, organization_id=org.id)
    audit.record(
        "merchant_user.create",
        "user",
        user.id,
        after={"kind": "merchant", "login": login, "organization_id": org.id},
    )
    return user.id


def create_staff(login: str, password: str, roles: list[str]) -> User:
    """A service-centre staff login holding `roles` (see `backend.auth.roles`)."""
    user = create_login_user("staff", login, password, roles=roles)
    audit.record(
        "staff.create",
        "user",
        user.id,
        after={"kind": "staff", "login": login, "roles": user.roles},
    )
    return user


def whoami(user_id: int) -> dict:
    """Who a staff or merchant login is: its roles, or its organisation."""
    user = get_user(user_id)
    out = {
        "id": user.id,
        "kind": user.kind,
        "login": user.login,
        "roles": user.role_list,
        "active": user.active,
        "organization": None,
    }
    if user.organization_id is not None:
        org = organizations.get(user.organization_id)
        out["organization"] = {
            "id": org.id,
            "name": org.name,
            "kind": org.kind,
            "credit_code": org.credit_code,
            "status": org.status,
        }
    return out


def staff_query() -> Select:
    return select(User).where(User.kind == "staff")


def of_organization(organization_id: int) -> Select:
    """The logins bound to an organisation (its org users, or a merchant's tills)."""
    return select(User).where(User.organization_id == organization_id)


def get_of_kind(kind: str, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.kind != kind:
        raise NotFound(f"No such {kind}.", code=f"{kind}_not_found")
    return user


def create_org_user(organization_id: int, login: str, password: str) -> int:
    """A login bound to one organisation; for a merchant it is also a till login."""
    org = organizations.get(organization_id)
    kind = "merchant" if org.kind == "merchant" else "org"
    user = create_login_user(kind, login, password, organization_id=org.id)
    audit.record(
        "org_user.create",
        "user",
        user.id,
        after={"kind": kind, "login": login, "organization_id": org.id},
    )
    return user.id

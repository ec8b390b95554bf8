"""Staff roles. Separation of duties: each role is a set of routes and no role is a
superuser; a route names the roles it admits (`require("staff", roles=(...))`) and the
OpenAPI document shows them per operation (`x-roles`).

- `admin`: accounts and organisations (staff logins, organisations, operator clients,
  merchant users, disabling and enabling, rotating secrets, freezing, the catalogue);
- `reviewer`: the centre's review work (the registry);
- `expert`: expert opinions only;
- `finance`: settlements (later issuance, transfers and retirements);
- `auditor`: reads every staff route, including the audit log, and writes nothing.
"""

from __future__ import annotations

ADMIN = "admin"
REVIEWER = "reviewer"
EXPERT = "expert"
FINANCE = "finance"
AUDITOR = "auditor"

STAFF_ROLES = (ADMIN, REVIEWER, EXPERT, FINANCE, AUDITOR)
# Who may read what each role works on: the auditor always, plus the working roles.
ANY_STAFF = STAFF_ROLES


def check(roles) -> list[str]:
    """`roles` as a sorted list without repeats; a name that is no staff role raises
    ValueError."""
    out = sorted({r.strip() for r in roles if r and r.strip()})
    unknown = [r for r in out if r not in STAFF_ROLES]
    if unknown:
        raise ValueError(f"unknown staff role(s): {', '.join(unknown)}; one of {STAFF_ROLES}")
    if not out:
        raise ValueError("a staff login needs at least one role")
    return out

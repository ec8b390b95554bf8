"""Serial blocks follow every gram that can leave the points world.

- `mint` opens fresh serials of an object (numbering per object, contiguous across
  vintages) as one held block in an account.
- `take` moves `amount` grams out of an account's held blocks, oldest vintage first: whole
  blocks move; the last one splits, the sender keeping the head and the mover taking the
  tail (the original row shrinks first, then the tail is inserted, so no two blocks ever
  overlap, which PostgreSQL checks with an exclusion constraint).
- `move_reserved` moves the blocks reserved for a transfer or a use, whole.

The caller posts the matching ledger entry in the same transaction; the block rows are
locked before the ledger's accounts (rows before accounts, see ARCHITECTURE.md)."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.db import db, dialect_insert, utcnow
from backend.errors import Conflict, integer
from backend.ledger import Account
from backend.reductions.models import SerialBlock, SerialCounter


class InsufficientReductions(Conflict):
    code, title = "insufficient_reductions", "Not enough reductions"
    extras = {"held_g": integer("The grams the organisation holds now.", 1200000)}


def _open_serials(object_type: str, object_id: int, amount: int) -> int:
    """Reserve `amount` serials of the object; returns the first."""
    db.session.execute(
        dialect_insert(SerialCounter)
        .values(object_type=object_type, object_id=object_id, next_serial=1)
        .on_conflict_do_nothing(index_elements=("object_type", "object_id"))
    )
    counter = db.session.execute(
        select(SerialCounter)
        .where(SerialCounter.object_type == object_type, SerialCounter.object_id == object_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    first = counter.next_serial
    counter.next_serial = first + amount
    return first


def mint(
    object_type: str,
    object_id: int,
    vintage: int,
    amount: int,
    account: Account,
    *,
    origin: tuple[str, int],
) -> SerialBlock:
    first = _open_serials(object_type, object_id, amount)
    now = utcnow()
    block = SerialBlock(
        object_type=object_type,
        object_id=object_id,
        vintage=vintage,
        start_serial=first,
        end_serial=first + amount - 1,
        account_id=account.id,
        status="held",
        origin_type=origin[0],
        origin_id=origin[1],
        created_at=now,
        updated_at=now,
    )
    db.session.add(block)
    db.session.flush()
    return block


def _place(block: SerialBlock, account: Account, status: str, reserved_for) -> None:
    block.account_id = account.id
    block.status = status
    block.reserved_for_type, block.reserved_for_id = reserved_for or (None, None)
    block.updated_at = utcnow()


def take(
    source: Account,
    amount: int,
    target: Account,
    *,
    status: str,
    reserved_for: tuple[str, int] | None = None,
) -> list[SerialBlock]:
    """Move `amount` grams of `source`'s held blocks to `target`, in `status`."""
    held = list(
        db.session.execute(
            select(SerialBlock)
            .where(SerialBlock.account_id == source.id, SerialBlock.status == "held")
            .order_by(SerialBlock.vintage, SerialBlock.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )
    if sum(b.amount_g for b in held) < amount:
        raise InsufficientReductions(
            f"{amount} g asked for, {sum(b.amount_g for b in held)} g held.",
            extra={"held_g": sum(b.amount_g for b in held)},
        )
    moved: list[SerialBlock] = []
    remaining = amount
    for block in held:
        if remaining == 0:
            break
        if block.amount_g <= remaining:
            _place(block, target, status, reserved_for)
            remaining -= block.amount_g
            moved.append(block)
            continue
        # split: the sender keeps the head, the mover takes the tail
        tail_start = block.end_serial - remaining + 1
        tail_end = block.end_serial
        block.end_serial = tail_start - 1
        block.updated_at = utcnow()
        db.session.flush()  # shrink first: the two never overlap
        tail = SerialBlock(
            object_type=block.object_type,
            object_id=block.object_id,
            vintage=block.vintage,
            start_serial=tail_start,
            end_serial=tail_end,
            account_id=target.id,
            status="held",
            origin_type=block.origin_type,
            origin_id=block.origin_id,
            parent_id=block.id,
            created_at=utcnow(),
        )
        _place(tail, target, status, reserved_for)
        db.session.add(tail)
        moved.append(tail)
        remaining = 0
    db.session.flush()
    return moved


def move_reserved(
    reserved_for: tuple[str, int], target: Account, *, status: str
) -> list[SerialBlock]:
    """Move every block reserved for (`transfer`|`use`, id) to `target`, in `status`."""
    blocks = list(
        db.session.execute(
            select(SerialBlock)
            .where(
                SerialBlock.reserved_for_type == reserved_for[0],
                SerialBlock.reserved_for_id == reserved_for[1],
                SerialBlock.status == "reserved",
            )
            .order_by(SerialBlock.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )
    for block in blocks:
        _place(block, target, status, None)
    db.session.flush()
    return blocks


def summary(blocks: list[SerialBlock]) -> list[dict]:
    return [
        {"serial": b.serial, "amount_g": b.amount_g, "vintage": b.vintage}
        for b in sorted(blocks, key=lambda b: (b.object_type, b.object_id, b.start_serial))
    ]


def of_accounts(account_ids: list[int]) -> Select:
    return select(SerialBlock).where(SerialBlock.account_id.in_(account_ids))


def covering(object_type: str, object_id: int, start: int, end: int) -> list[SerialBlock]:
    """The blocks holding any serial of [start, end] of the object, in order."""
    return list(
        db.session.execute(
            select(SerialBlock)
            .where(
                SerialBlock.object_type == object_type,
                SerialBlock.object_id == object_id,
                SerialBlock.start_serial <= end,
                SerialBlock.end_serial >= start,
            )
            .order_by(SerialBlock.start_serial)
        ).scalars()
    )

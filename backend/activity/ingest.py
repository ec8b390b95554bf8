"""Operator uploads: judging each record and storing the accepted ones.

Per record, in order:
1. `external_id` must be a string of 1-128 characters (else `invalid`); one seen
   earlier in this batch, or stored from an earlier upload, is a `duplicate` and gets
   the first result again (`reduction_g` included). Two uploads racing with the same id
   are settled by the database (`INSERT ... ON CONFLICT DO NOTHING`): one stores it,
   the other answers `duplicate`.
2. the user reference must have an active consent for this scenario at upload time:
   never bound -> `unknown_user`, only withdrawn consents -> `no_consent`. Nothing of
   such a record is stored (data minimisation): the batch only counts it.
3. the scenario's adapter validates and prices the record with the parameters of the
   scenario's published methodology version (`invalid`, `implausible`,
   `wrong_activity_type`);
4. the start must lie within the scenario's window (`too_old`), and neither start nor
   end in the future (`invalid`; a clock skew of `FUTURE_SKEW` is tolerated).
5. overlap: a record whose time overlaps another counted activity of the same resident
   (any scenario of its overlap group; by more than half of the shorter one or 5
   minutes, whichever is smaller) is accepted but counts 0 g, with the flag `overlap`:
   the first reported counts (no double counting across operators; the rule is in
   `overlap.py`).

A rejected record's result names, per field, the rule it broke: `{"external_id": ...,
"status": "rejected", "reason": "invalid", "errors": {"distance_m": ["must be an integer
number of metres"]}}`; derived quantities (`speed`, `power`, `duration`) stand for the
fields they come from, and `implausible` names the limit.

An async upload (`Prefer: respond-async`) is stored with its payload and processed by
the job `process_batch`; `resume_batches` re-runs batches whose job was lost.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

import scenarios_adapters
from backend.activity import overlap
from backend.activity.accrual import accrue
from backend.activity.models import Activity, Consent, UploadBatch, store_details
from backend.activity.partitions import ensure_months
from backend.db import bulk_insert, db, in_values, storable, utcnow
from backend.errors import NotFound
from backend.registry import scenarios
from backend.registry.models import Scenario
from backend.runtime import setting
from jobs import job
from jobs.outbox import enqueue_after_commit
from scenarios_adapters.base import Rejected

SHANGHAI = ZoneInfo("Asia/Shanghai")
FUTURE_SKEW = timedelta(minutes=5)
# One record crediting more than a tonne is not a personal trip: judged implausible
# (and it keeps every amount far from the 64-bit limit).
MAX_RECORD_G = 1_000_000
CHUNK = 5000


@dataclass(frozen=True)
class ConsentRef:
    id: int
    user_id: int


@dataclass
class _Candidate:
    index: int
    external_id: str
    consent: ConsentRef
    activity_type: str
    started_at: datetime
    ended_at: datetime
    measures: dict
    reduction_g: int
    flags: list | None = None


def new_batch(scenario_id: int, client_id: str, records: list, *, queued: bool) -> UploadBatch:
    scenarios.require_registered(scenario_id)
    batch = UploadBatch(
        id=uuid.uuid4().hex,
        scenario_id=scenario_id,
        client_id=client_id,
        status="queued" if queued else "running",
        received=len(records),
        payload=records if queued else None,
    )
    db.session.add(batch)
    db.session.flush()
    if queued:
        enqueue_after_commit(process_batch, batch_id=batch.id)
    return batch


def process(batch: UploadBatch, records: list) -> UploadBatch:
    """Judge and store `records` for `batch`; fills its counts and results."""
    scenario = db.session.get(Scenario, batch.scenario_id)
    if scenario.status != "registered":  # deregistered while the batch was queued
        batch.status, batch.error = "failed", "scenario_not_registered"
        batch.payload, batch.finished_at = None, utcnow()
        db.session.flush()
        return batch
    methodology = scenario.methodology
    now = utcnow()
    oldest = now - timedelta(days=scenario.window_days)
    results: list[dict | None] = [None] * len(records)
    first_in_batch: dict[str, int] = {}
    pending: list[tuple[int, str, dict]] = []

    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            results[i] = _rejected(None, "invalid", {"record": ["must be a JSON object"]})
            continue
        ext = rec.get("external_id")
        problem = _text_problem(ext)
        if problem:
            results[i] = _rejected(
                ext if isinstance(ext, str) and storable(ext) else None,
                "invalid",
                {"external_id": [problem]},
            )
            continue
        if ext in first_in_batch:
            continue  # answered once the first one is
        first_in_batch[ext] = i
        pending.append((i, ext, rec))

    stored = _stored_results(scenario.id, [ext for _, ext, _ in pending])
    consents = _consents(scenario.id, pending)
    # the adapter's check, prepared once for the batch (the same answers as `assess`)
    assess = scenarios_adapters.assessor(
        methodology.formula, methodology.parameters, scenario.activity_types
    )
    candidates: list[_Candidate] = []
    for i, ext, rec in pending:
        if ext in stored:
            results[i] = _duplicate(ext, stored[ext])
            continue
        ref = rec.get("user_ref")
        problem = _text_problem(ref)
        if problem:
            results[i] = _rejected(ext, "invalid", {"user_ref": [problem]})
            continue
        consent, reason = consents.get(ref, (None, "unknown_user"))
        if consent is None:
            results[i] = _rejected(ext, reason, {"user_ref": [REF_PROBLEMS[reason]]})
            continue
        try:
            activity, grams = assess(rec)
        except Rejected as rej:
            results[i] = _rejected(ext, rej.reason, rej.errors)
            continue
        if grams > MAX_RECORD_G:
            message = f"{grams} g in one record is above the limit of {MAX_RECORD_G} g"
            results[i] = _rejected(ext, "implausible", {"reduction_g": [message]})
            continue
        future = [f for f in ("started_at", "ended_at") if getattr(activity, f) > now + FUTURE_SKEW]
        if future:
            results[i] = _rejected(ext, "invalid", {f: ["is in the future"] for f in future})
            continue
        if activity.started_at < oldest:
            earliest = oldest.astimezone(SHANGHAI).replace(microsecond=0).isoformat()
            message = (
                f"is before the scenario's {scenario.window_days}-day window "
                f"(the earliest start accepted now is {earliest})"
            )
            results[i] = _rejected(ext, "too_old", {"started_at": [message]})
            continue
        candidates.append(
            _Candidate(
                index=i,
                external_id=ext,
                consent=consent,
                activity_type=activity.activity_type,
                started_at=activity.started_at,
                ended_at=activity.ended_at,
                measures=dict(activity.measures),
                reduction_g=grams,
            )
        )

    overlap.lock_residents(sorted({c.consent.user_id for c in candidates}))
    overlap.flag(candidates, methodology.formula)
    inserted = _insert(batch, scenario, candidates)
    raced = [c.external_id for c in candidates if c.external_id not in inserted]
    raced_results = _stored_results(scenario.id, raced) if raced else {}
    for c in candidates:
        if c.external_id in inserted:
            results[c.index] = {
                "external_id": c.external_id,
                "status": "accepted",
                "reduction_g": c.reduction_g,
            }
            if c.flags:
                results[c.index]["flags"] = c.flags
        else:
            results[c.index] = _duplicate(c.external_id, raced_results[c.external_id])

    for i, rec in enumerate(records):  # repeats inside the batch
        if results[i] is None:
            first = results[first_in_batch[rec["external_id"]]]
            results[i] = _duplicate_of_result(first)

    batch.accepted = sum(1 for r in results if r["status"] == "accepted")
    batch.duplicates = sum(1 for r in results if r["status"] == "duplicate")
    batch.rejected = sum(1 for r in results if r["status"] == "rejected")
    batch.results = results
    batch.payload = None
    batch.status = "done"
    batch.finished_at = utcnow()
    if batch.accepted:
        enqueue_after_commit(accrue)
    db.session.flush()
    return batch


REF_PROBLEMS = {
    "unknown_user": "is bound to no resident: the resident must first redeem a bind token "
    "issued for it (POST /api/v1/operator/bind-tokens)",
    "no_consent": "the resident has withdrawn consent for this reference",
}


def _text_problem(value) -> str | None:
    """What is wrong with an `external_id` or `user_ref` (None when nothing is)."""
    if value is None:
        return "is required: a string of 1 to 128 characters"
    if not isinstance(value, str):
        return "must be a string of 1 to 128 characters"
    if not 1 <= len(value) <= 128:
        return "must be 1 to 128 characters long"
    if not storable(value):
        return "must not contain NUL characters or invalid Unicode"
    return None


def _is_ref(ref) -> bool:
    return _text_problem(ref) is None


def _rejected(ext: str | None, reason: str, errors: dict[str, list[str]]) -> dict:
    """A rejected record's result: the reason code and, per field, the rule broken."""
    return {"external_id": ext, "status": "rejected", "reason": reason, "errors": errors}


def _duplicate(ext: str, first: tuple[int, list | None]) -> dict:
    out = {"external_id": ext, "status": "duplicate", "reduction_g": first[0]}
    if first[1]:
        out["flags"] = first[1]
    return out


def _duplicate_of_result(first: dict) -> dict:
    out = dict(first)
    out["status"] = "duplicate"
    return out


def _stored_results(scenario_id: int, external_ids: list[str]) -> dict[str, tuple[int, list]]:
    found: dict[str, tuple[int, list]] = {}
    for start in range(0, len(external_ids), CHUNK):
        chunk = external_ids[start : start + CHUNK]
        rows = db.session.execute(
            select(Activity.external_id, Activity.reduction_g, Activity.flags).where(
                Activity.scenario_id == scenario_id, in_values(Activity.external_id, chunk)
            )
        )
        for ext, grams, flags in rows:
            found[ext] = (grams, flags)
    return found


def _consents(scenario_id: int, pending) -> dict[str, tuple[ConsentRef | None, str]]:
    refs = sorted({rec.get("user_ref") for _, _, rec in pending if _is_ref(rec.get("user_ref"))})
    out: dict[str, tuple[ConsentRef | None, str]] = {}
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start : start + CHUNK]
        for consent in db.session.execute(
            select(Consent.id, Consent.user_id, Consent.user_ref, Consent.withdrawn_at).where(
                Consent.scenario_id == scenario_id, in_values(Consent.user_ref, chunk)
            )
        ):
            if consent.withdrawn_at is None:
                out[consent.user_ref] = (ConsentRef(consent.id, consent.user_id), "")
            elif consent.user_ref not in out:
                out[consent.user_ref] = (None, "no_consent")
    return out


def _insert(batch: UploadBatch, scenario: Scenario, candidates: list[_Candidate]) -> set[str]:
    """Write the accepted records as `activities` rows (the only place that does);
    returns the external ids this upload stored (others raced and lost). On PostgreSQL
    the rows go as ONE JSON parameter (`json_to_recordset`): one string to send instead
    of an array per column to build; elsewhere `bulk_insert`."""
    if not candidates:
        return set()
    now = utcnow()
    # in key order: two uploads of overlapping records never deadlock on the unique index
    candidates = sorted(candidates, key=lambda c: c.external_id)
    inserted: set[str] = set()
    if db.session.get_bind().dialect.name == "postgresql":
        for start in range(0, len(candidates), CHUNK):
            chunk = candidates[start : start + CHUNK]
            rows = json.dumps(
                [
                    {
                        "e": c.external_id,
                        "u": c.consent.user_id,
                        "c": c.consent.id,
                        "t": c.activity_type,
                        "d": c.started_at.astimezone(SHANGHAI).date().isoformat(),
                        "g": c.reduction_g,
                        "f": c.flags,
                        "s": c.started_at.isoformat(),
                        "x": c.ended_at.isoformat(),
                        "m": c.measures,
                    }
                    for c in chunk
                ]
            )
            # the raw details go to `activity_details` (a partition a month) in the
            # same statement: their months are made first where missing
            ensure_months(
                db.session.connection(), {c.started_at.astimezone(SHANGHAI).date() for c in chunk}
            )
            inserted.update(
                db.session.execute(
                    _INSERT_JSON,
                    {
                        "rows": rows,
                        "scenario_id": scenario.id,
                        "batch_id": batch.id,
                        "methodology_id": scenario.methodology_id,
                        "now": now,
                    },
                ).scalars()
            )
        return inserted
    rows = [
        {
            "scenario_id": scenario.id,
            "external_id": c.external_id,
            "user_id": c.consent.user_id,
            "consent_id": c.consent.id,
            "batch_id": batch.id,
            "activity_type": c.activity_type,
            "methodology_id": scenario.methodology_id,
            "day": c.started_at.astimezone(SHANGHAI).date(),
            "reduction_g": c.reduction_g,
            "flags": c.flags,
            "created_at": now,
        }
        for c in candidates
    ]
    by_ext = {r["external_id"]: (r, c) for r, c in zip(rows, candidates, strict=True)}
    for start in range(0, len(rows), CHUNK):
        stored = bulk_insert(
            Activity,
            rows[start : start + CHUNK],
            returning=("id", "external_id"),
            on_conflict=("scenario_id", "external_id"),
        )
        # the raw details beside them (`activity_details`, a partition a month)
        store_details([(i, *by_ext[ext]) for i, ext in stored])
        inserted.update(ext for _, ext in stored)
    return inserted


_INSERT_JSON = text(
    "WITH r AS MATERIALIZED (SELECT * FROM json_to_recordset(CAST(:rows AS json))"
    " AS r(e varchar, u bigint, c bigint, t varchar, d date, g bigint, f json,"
    " s timestamptz, x timestamptz, m json)),"
    " ins AS (INSERT INTO activities (scenario_id, external_id, user_id, consent_id,"
    " batch_id, activity_type, methodology_id, day, reduction_g, flags, created_at)"
    " SELECT CAST(:scenario_id AS bigint), r.e, r.u, r.c, CAST(:batch_id AS varchar), r.t,"
    " CAST(:methodology_id AS bigint), r.d, r.g, r.f, CAST(:now AS timestamptz) FROM r"
    " ON CONFLICT (scenario_id, external_id) DO NOTHING"
    " RETURNING id, external_id, user_id, day),"
    " details AS (INSERT INTO activity_details (activity_id, day, user_id, started_at,"
    " ended_at, measures) SELECT ins.id, ins.day, ins.user_id, r.s, r.x, r.m"
    " FROM ins JOIN r ON r.e = ins.external_id)"
    " SELECT external_id FROM ins"
)


class BatchNotFound(NotFound):
    code, title = "batch_not_found", "No such batch"


def get_own_batch(client_id: str, batch_id: str) -> UploadBatch:
    """A batch, only for the client that uploaded it."""
    batch = db.session.get(UploadBatch, batch_id) if len(batch_id) <= 32 else None
    if batch is None or batch.client_id != client_id:
        raise BatchNotFound("No such batch.")
    return batch


@job(queue="ingest", timeout=600)
def process_batch(batch_id: str) -> dict:
    """Process a stored async batch; a batch no longer queued (done, or failed because its
    operator was frozen or its scenario deregistered) is left as it is."""
    batch = db.session.get(UploadBatch, batch_id, with_for_update=True)
    if batch is None or batch.status != "queued":
        return {"batch_id": batch_id, "status": batch.status if batch else "missing"}
    records = batch.payload or []
    batch.status = "running"
    process(batch, records)
    return {"batch_id": batch_id, "status": batch.status, "accepted": batch.accepted}


@job(queue="ingest", timeout=600)
def resume_batches(older_than_seconds: int | None = None) -> int:
    """Re-run async batches still queued after a while (`RESUME_BATCHES_AFTER_SECONDS`):
    their job was lost (Redis lost its data) or its worker killed, and RQ retries
    neither. Running one whose job is merely late is harmless (`process_batch` locks the
    batch and leaves a done one alone). Commits per batch."""
    if older_than_seconds is None:
        older_than_seconds = setting("RESUME_BATCHES_AFTER_SECONDS")
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    ids = (
        db.session.execute(
            select(UploadBatch.id).where(
                UploadBatch.status == "queued", UploadBatch.created_at < cutoff
            )
        )
        .scalars()
        .all()
    )
    for batch_id in ids:
        try:
            process_batch(batch_id)
            db.session.commit()
        except Exception as exc:  # one bad batch must not hold up the others
            db.session.rollback()
            batch = db.session.get(UploadBatch, batch_id)
            batch.status, batch.error = "failed", f"{type(exc).__name__}"
            batch.payload, batch.finished_at = None, utcnow()
            db.session.commit()
    return len(ids)

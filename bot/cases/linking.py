"""Same-issue clusters in the database (issue 15): link a new case to the open cases of its unit
that report the same problem at the same place, split a wrongly linked case out again.

A cluster is named by the id of the case that started it: every member, that case included,
carries it in ``cases.cluster_id``; a case alone has None. The matching itself is
:mod:`bot.cases.clusters`; here the candidates are read with one indexed query — the open cases of
the unit sharing a look-up key (``case_cluster_keys``: a place, or a problem for cases without a
place) — newest first and at most :data:`MAX_CANDIDATES`, so a link costs the same with 100 or
10,000 open cases in the unit.

Everything runs in the caller's transaction (the one that files the case), SQLAlchemy 2.0 style,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from bot.cases.clusters import THRESHOLD, CaseSignature, best_match, place_relation, signature
from bot.db.models import (
    TERMINAL_STATUSES,
    ActorKind,
    Case,
    CaseClusterKey,
    CaseEvent,
    CaseStatus,
)

__all__ = [
    "MAX_CANDIDATES",
    "OPEN_STATUSES",
    "cluster_members",
    "cluster_size",
    "forget_case",
    "link_case",
    "sign_case",
    "split_case",
]

#: Statuses of cases a newcomer may join.
OPEN_STATUSES = tuple(s for s in CaseStatus if s not in TERMINAL_STATUSES)
#: Candidates compared per link, newest first.
MAX_CANDIDATES = 200
#: Key of the signature JSON listing clusters a case was split out of (never linked again).
NO_LINK = "no_link"


def _signed(case: Case) -> tuple[CaseSignature, dict[str, Any]]:
    """The signature of ``case``'s text, and the JSON to store (keeping its split history)."""
    sig = signature(case.content, case.category, case.unit_code, location=case.location_text)
    data = sig.to_json()
    previous = case.signature if isinstance(case.signature, dict) else {}
    if previous.get(NO_LINK):
        data[NO_LINK] = previous[NO_LINK]
    return sig, data


def _store_keys(session: Session, case: Case, sig: CaseSignature, *, replace: bool) -> None:
    """One statement (two when the case was keyed before)."""
    if replace:
        session.execute(delete(CaseClusterKey).where(CaseClusterKey.case_id == case.id))
    rows = [{"case_id": case.id, "key": key, "unit_code": case.unit_code}
            for key in dict.fromkeys(k[:96] for k in sig.keys())]
    if rows:
        session.execute(insert(CaseClusterKey).values(rows))


def _with_id(session: Session, case: Case) -> None:
    if case.id is None:
        session.add(case)
        session.flush()


def sign_case(session: Session, case: Case) -> CaseSignature:
    """Compute and store ``case``'s signature and look-up keys, e.g. after its text changed."""
    _with_id(session, case)
    replace = case.signature is not None
    sig, data = _signed(case)
    case.signature = data
    case.topic_terms = sig.topics()
    _store_keys(session, case, sig, replace=replace)
    session.flush()
    return sig


def _candidates(session: Session, case: Case, sig: CaseSignature) -> list[Any]:
    """(id, cluster id, signature JSON) of the open cases of the unit that share a look-up key
    pattern with ``sig`` (:meth:`CaseSignature.lookup`), newest first: one indexed query."""
    keys = list(dict.fromkeys(k[:96] for k in sig.lookup()))
    where = Case.id.in_(select(CaseClusterKey.case_id).where(
        CaseClusterKey.unit_code == case.unit_code, CaseClusterKey.key.in_(keys)))
    with session.no_autoflush:
        return list(session.execute(
            select(Case.id, Case.cluster_id, Case.signature)
            .where(where, Case.id != case.id, Case.unit_code == case.unit_code,
                   Case.status.in_(OPEN_STATUSES))
            .order_by(Case.id.desc())
            .limit(MAX_CANDIDATES)
        ).all())


def link_case(session: Session, case: Case, *, threshold: float = THRESHOLD) -> int | None:
    """Sign ``case`` and put it in the cluster of the open case of its unit that reports the same
    issue, if any; return the cluster id (None: no match, the case stays alone).

    Three statements when nothing matches (read the candidates, store the keys, store the
    signature), two or three more when something does (the cluster, the audit event)."""
    _with_id(session, case)
    replace = case.signature is not None
    sig, data = _signed(case)
    rows = _candidates(session, case, sig)
    _store_keys(session, case, sig, replace=replace)
    excluded = set(data.get(NO_LINK) or ())
    clusters: dict[int, int] = {}
    candidates: list[tuple[int, CaseSignature]] = []
    for case_id, cluster_id, other in rows:
        if not other or (cluster_id is not None and cluster_id in excluded) or case_id in excluded:
            continue
        clusters[case_id] = cluster_id if cluster_id is not None else case_id
        candidates.append((case_id, CaseSignature.from_json(other)))
    match = _best_cluster(sig, candidates, clusters, threshold)
    case.signature = data
    case.topic_terms = sig.topics()
    if match is None:
        session.flush()
        return None
    matched_id, score = match
    cluster_id = clusters[matched_id]
    if cluster_id == matched_id:
        session.execute(
            update(Case).where(Case.id == matched_id, Case.cluster_id.is_(None))
            .values(cluster_id=matched_id)
            .execution_options(synchronize_session=False)
        )
    case.cluster_id = cluster_id
    _event(session, case.id, "cluster_linked",
           {"cluster_id": cluster_id, "matched_case_id": matched_id, "score": round(score, 3)})
    session.flush()
    return cluster_id


def _best_cluster(sig: CaseSignature, candidates: list[tuple[int, CaseSignature]],
                  clusters: dict[int, int], threshold: float) -> tuple[int, float] | None:
    """:func:`best_match`, except that a cluster one of whose read members is at an explicitly
    different place is passed over: one wrong link must not chain two places together."""
    match = best_match(sig, candidates, threshold)
    while match is not None:
        cluster = clusters[match[0]]
        members = [other for cid, other in candidates if clusters[cid] == cluster]
        if all(place_relation(sig, other) > 0.0 for other in members):
            return match
        candidates = [(cid, other) for cid, other in candidates if clusters[cid] != cluster]
        match = best_match(sig, candidates, threshold)
    return None


def split_case(session: Session, case_id: int, *, actor_kind: ActorKind = ActorKind.SYSTEM,
               actor_id: str | None = None) -> int | None:
    """Take a case out of its cluster (it is never linked to that cluster again); return the
    cluster id it left, or None when it was in none. When the case started the cluster, the
    oldest remaining member names it from now on; a cluster left with one case dissolves."""
    case = session.get(Case, case_id)
    if case is None:
        raise KeyError(case_id)
    old = case.cluster_id
    if old is None:
        return None
    remaining = session.execute(
        select(Case.id).where(Case.cluster_id == old, Case.id != case_id).order_by(Case.id)
    ).scalars().all()
    new_id: int | None = remaining[0] if len(remaining) > 1 else None
    if remaining and (old == case_id or new_id is None):
        session.execute(
            update(Case).where(Case.id.in_(remaining)).values(cluster_id=new_id)
            .execution_options(synchronize_session="fetch")
        )
    data: dict[str, Any] = dict(case.signature) if isinstance(case.signature, dict) else {}
    renamed = [new_id] if new_id is not None and old == case_id else []
    data[NO_LINK] = sorted({*(data.get(NO_LINK) or ()), old, *renamed})
    case.signature = data
    case.cluster_id = None
    _event(session, case_id, "cluster_split", {"cluster_id": old}, actor_kind, actor_id)
    session.flush()
    return old


def cluster_members(session: Session, cluster_id: int) -> list[Case]:
    """The cases of a cluster, oldest first."""
    return list(session.execute(
        select(Case).where(Case.cluster_id == cluster_id).order_by(Case.id)
    ).scalars())


def cluster_size(session: Session, cluster_id: int | None) -> int:
    """How many cases a cluster holds (1 for a case alone)."""
    if cluster_id is None:
        return 1
    return int(session.execute(
        select(func.count()).select_from(Case).where(Case.cluster_id == cluster_id)
    ).scalar_one())


def forget_case(session: Session, case_id: int) -> None:
    """Drop what the signature derived from the citizen's words (for erasure/anonymisation)."""
    session.execute(delete(CaseClusterKey).where(CaseClusterKey.case_id == case_id))
    session.execute(
        update(Case).where(Case.id == case_id).values(signature=None, topic_terms=None)
        .execution_options(synchronize_session="fetch")
    )


def _event(session: Session, case_id: int, action: str, detail: dict[str, Any],
           actor_kind: ActorKind = ActorKind.SYSTEM, actor_id: str | None = None) -> None:
    session.add(CaseEvent(case_id=case_id, actor_kind=actor_kind, actor_id=actor_id,
                          action=action, detail=detail))

"""Same-issue clusters (issue 15): how well cases are linked, and what a link costs.

**Quality.** Files the cases of a labelled set (``id``, ``group``, ``unit``, ``category``,
``location``, ``days_ago``, ``text``; default: the blind set ``tests/data/cluster_blind/``) oldest
first into a fresh SQLite database, each through :func:`bot.cases.linking.link_case` as filing
does, and prints pairwise precision and recall of "same issue": a pair of cases is predicted
when they end in one cluster, true when they share a group (targets: precision >= 0.90, recall
>= 0.80).

**Latency.** Fills one unit with ``--open`` (10,000) generated open cases, signatures and keys
stored, then times ``link_case`` for ``--links`` new cases (each rolled back, so the pool stays
the same): p50 / p95 / max ms per link, candidates read per link.

    PYTHONPATH=. .venv/bin/python -m bench.clusters                      # the blind set, then latency
    PYTHONPATH=. .venv/bin/python -m bench.clusters --file tests/data/cluster_dev/cases.yml
    PYTHONPATH=. .venv/bin/python -m bench.clusters --no-quality --db postgresql://…/bench

The blind set must be run once, at the end, and its lines never read: ``--errors`` (the wrongly
joined and wrongly separated pairs) refuses it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.stats import pct
from bot.cases import linking
from bot.cases.clusters import signature
from bot.db.engine import make_engine
from bot.db.models import Case, CaseClusterKey, CaseKind, CaseStatus, Unit, metadata

ROOT = Path(__file__).resolve().parents[1]
BLIND = ROOT / "tests" / "data" / "cluster_blind" / "cases.yml"
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)


def load_cases(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = data["cases"] if isinstance(data, dict) else data
    return [dict(c) for c in cases]


def _schema(url: str) -> Engine:
    engine = make_engine(url)
    metadata.create_all(engine)
    return engine


def _units(session: Session, codes: set[str]) -> None:
    existing = set(session.execute(select(Unit.code)).scalars())
    if "hn" not in existing:
        session.add(Unit(code="hn", name="Hà Nội", level="province"))
        session.flush()
    for code in sorted(codes - existing - {"hn"}):
        session.add(Unit(code=code, name=code, level="commune", parent_code="hn"))
    session.flush()


# --------------------------------------------------------------------------- quality


def pairwise(truth: dict[str, str], predicted: dict[str, Any]) -> dict[str, float]:
    """Pairwise precision/recall of ``predicted`` clusters against ``truth`` groups."""

    def pairs(counts: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    true_pairs = pairs(Counter(truth.values()))
    pred_pairs = pairs(Counter(predicted.values()))
    both = pairs(Counter((truth[k], predicted[k]) for k in truth))
    precision = both / pred_pairs if pred_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"true_pairs": true_pairs, "predicted_pairs": pred_pairs, "correct_pairs": both,
            "precision": precision, "recall": recall, "f1": f1}


def run_quality(path: Path, *, threshold: float | None = None) -> tuple[dict[str, float],
                                                                         dict[str, Any]]:
    cases = load_cases(path)
    order = sorted(range(len(cases)), key=lambda i: (-float(cases[i].get("days_ago") or 0), i))
    engine = _schema("sqlite://")
    predicted: dict[str, Any] = {}
    ids: dict[str, int] = {}
    kwargs = {} if threshold is None else {"threshold": threshold}
    with Session(engine, future=True) as session:
        _units(session, {str(c["unit"]) for c in cases})
        for n, i in enumerate(order):
            raw = cases[i]
            case = Case(
                ref_code=f"T-{n:05d}", kind=CaseKind.PETITION, category=raw.get("category"),
                content=str(raw["text"]), location_text=(raw.get("location") or None),
                unit_code=str(raw["unit"]), channel="web", channel_user_id=str(raw["id"]),
                status=CaseStatus.NEW,
                created_at=NOW - timedelta(days=float(raw.get("days_ago") or 0)),
            )
            session.add(case)
            session.flush()
            linking.link_case(session, case, **kwargs)
            ids[str(raw["id"])] = case.id
        session.commit()
        rows = dict(session.execute(select(Case.id, Case.cluster_id)).all())
    engine.dispose()
    for key, case_id in ids.items():
        cluster = rows[case_id]
        predicted[key] = cluster if cluster is not None else f"alone-{case_id}"
    truth = {str(c["id"]): str(c["group"]) for c in cases}
    return pairwise(truth, predicted), predicted


def print_errors(path: Path, predicted: dict[str, Any]) -> None:
    cases = {str(c["id"]): c for c in load_cases(path)}
    keys = list(cases)
    for a_i, a in enumerate(keys):
        for b in keys[a_i + 1:]:
            same_true = cases[a]["group"] == cases[b]["group"]
            same_pred = predicted[a] == predicted[b]
            if same_true != same_pred:
                label = "MISSED" if same_true else "WRONG "
                print(f"{label} {a} ~ {b}\n    {cases[a]['text']} | {cases[a].get('location')}"
                      f"\n    {cases[b]['text']} | {cases[b].get('location')}")


# --------------------------------------------------------------------------- latency

_PROBLEMS = [
    ("ha_tang", "{p} bị ngập sâu mỗi khi mưa, nước tràn vào nhà"),
    ("ha_tang", "đèn đường {p} hỏng cả tuần, tối om"),
    ("moi_truong", "{p} có người đổ trộm rác thải, bốc mùi hôi"),
    ("moi_truong", "quán karaoke ở {p} hát to đến khuya"),
    ("ha_tang", "mặt đường {p} nhiều ổ gà, xe máy dễ ngã"),
    ("ha_tang", "{p} mất nước sinh hoạt hai ngày nay"),
    ("trat_tu_do_thi", "vỉa hè {p} bị lấn chiếm bán hàng"),
    ("trat_tu_do_thi", "ô tô đỗ kín {p}, không có lối đi"),
    ("dat_dai_xay_dung", "nhà số {n} {p} xây dựng trái phép lên tầng 5"),
    ("moi_truong", "{p} chó thả rông cắn trẻ em"),
    ("ha_tang", "cống {p} bị tắc, nước thải chảy tràn"),
    ("moi_truong", "muỗi nhiều ở {p}, có người sốt xuất huyết"),
    ("ha_tang", "{p} mất điện liên tục, điện chập chờn"),
    ("moi_truong", "có người đốt rác ở {p} khói bay vào nhà"),
    ("moi_truong", "cây xanh {p} cành khô sắp gãy"),
    ("an_ninh", "trộm cắp xe máy nhiều ở {p}"),
]
_STREETS = ["Láng Hạ", "Tam Trinh", "Lĩnh Nam", "Kim Mã", "Đội Cấn", "Trần Thái Tông", "Cầu Giấy",
            "Nguyễn Chí Thanh", "Tân Mai", "Trương Định", "Giải Phóng", "Minh Khai", "Bạch Mai",
            "Hoàng Văn Thụ", "Tây Sơn", "Chùa Láng", "Nguyễn Trãi", "Khâm Thiên", "Xã Đàn", "Huế"]
_NO_PLACE = [
    ("chinh_sach_xa_hoi", "trợ cấp người cao tuổi tháng này chưa được chi trả"),
    ("khac", "xin hỏi thủ tục đăng ký tạm trú cho người thuê nhà"),
    ("chinh_sach_xa_hoi", "thẻ bảo hiểm y tế của con tôi chưa được cấp"),
    ("chinh_sach_xa_hoi", "tiền hỗ trợ hộ cận nghèo bị chậm"),
    ("hoat_dong_mat_tran", "đề nghị công khai các khoản đóng góp quỹ trong năm"),
    ("an_ninh", "cảnh báo có kẻ giả danh cán bộ đến nhà thu tiền"),
]


def _place(rng: random.Random) -> str:
    r = rng.random()
    street = rng.choice(_STREETS)
    if r < 0.6:
        return rng.choice(["ngõ", "ngo", "hẻm", "ngách"]) + f" {rng.randint(1, 400)} {street}"
    if r < 0.8:
        return rng.choice(["tổ dân phố", "TDP", "tổ"]) + f" {rng.randint(1, 60)}"
    if r < 0.9:
        return f"phố {street}"
    return f"tòa {rng.choice('ABCDE')}{rng.randint(1, 9)}"


def generated(rng: random.Random) -> tuple[str, str]:
    """(category, text) of a made-up case: 90% at a place (alley, group, street, building)."""
    if rng.random() < 0.1:
        return rng.choice(_NO_PLACE)
    category, template = rng.choice(_PROBLEMS)
    return category, template.format(p=_place(rng), n=rng.randint(1, 200))


def _fill(engine: Engine, unit: str, n: int, rng: random.Random) -> None:
    with Session(engine, future=True) as session:
        _units(session, {unit})
        session.commit()
    batch = 1000
    made = 0
    while made < n:
        rows = []
        keys = []
        for i in range(made, min(n, made + batch)):
            category, body = generated(rng)
            sig = signature(body, category, unit)
            rows.append({"id": i + 1, "ref_code": f"B-{i:06d}", "kind": CaseKind.PETITION,
                         "category": category,
                         "content": body, "unit_code": unit, "channel": "web",
                         "channel_user_id": f"u{i}", "status": CaseStatus.NEW,
                         "signature": sig.to_json(), "created_at": NOW, "updated_at": NOW,
                         "consent": False, "anonymised": False})
            keys += [{"case_id": i + 1, "key": k[:96], "unit_code": unit}
                     for k in dict.fromkeys(sig.keys())]
        with Session(engine, future=True) as session:
            session.execute(insert(Case), rows)
            session.execute(insert(CaseClusterKey), keys)
            session.commit()
        made += len(rows)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # the ids above were given, not drawn
            connection.execute(text(
                "SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"
            ))
        # Statistics, as a database in service has them (autovacuum; SQLite's optimize).
        connection.execute(text("ANALYZE"))


def run_latency(url: str, open_cases: int, links: int, seed: int = 15) -> dict[str, float]:
    rng = random.Random(seed)
    engine = _schema(url)
    unit = "p_bench"
    _fill(engine, unit, open_cases, rng)
    timings: list[float] = []
    candidates: list[int] = []
    original = linking.best_match

    def counting(sig: Any, cands: Any, threshold: float = 0.0) -> Any:
        cands = list(cands)
        candidates.append(len(cands))
        return original(sig, cands, threshold)

    linking.best_match = counting  # type: ignore[assignment]
    try:
        for i in range(links + 10):
            with Session(engine, future=True) as session:
                category, body = generated(rng)
                case = Case(ref_code=f"N-{i:05d}", kind=CaseKind.PETITION, content=body,
                            category=category,
                            unit_code=unit, channel="web", channel_user_id=f"n{i}",
                            status=CaseStatus.NEW)
                session.add(case)
                session.flush()
                start = time.perf_counter()
                linking.link_case(session, case)
                elapsed = (time.perf_counter() - start) * 1000
                session.rollback()
            if i >= 10:  # warm-up: statement caches, page cache
                timings.append(elapsed)
    finally:
        linking.best_match = original  # type: ignore[assignment]
    engine.dispose()
    return {"p50": pct(timings, 0.5), "p95": pct(timings, 0.95), "max": max(timings),
            "mean": statistics.fmean(timings),
            "candidates_mean": statistics.fmean(candidates[10:]),
            "candidates_max": max(candidates[10:])}


@contextmanager
def _sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def _postgres_url(url: str) -> Iterator[str]:
    """A fresh schema on the server of ``url``, dropped afterwards (the database is shared)."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"bench_clusters_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, future=True)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield parsed.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=BLIND, help="labelled cases (YAML)")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--errors", action="store_true", help="print wrong pairs (not blind)")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--open", type=int, default=10_000, help="open cases in the unit")
    parser.add_argument("--links", type=int, default=200, help="links timed")
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite)")
    args = parser.parse_args(argv)
    if args.errors and args.file.resolve() == BLIND.resolve():
        parser.error("--errors prints the cases: never on the blind set")
    if not args.no_quality:
        figures, predicted = run_quality(args.file, threshold=args.threshold)
        print(f"same-issue pairs on {args.file.relative_to(ROOT) if args.file.is_absolute() and ROOT in args.file.parents else args.file}:")
        print(f"  true pairs {figures['true_pairs']}, predicted {figures['predicted_pairs']},"
              f" correct {figures['correct_pairs']}")
        print(f"  precision {figures['precision']:.3f} (target >= 0.90)   recall"
              f" {figures['recall']:.3f} (target >= 0.80)   F1 {figures['f1']:.3f}")
        if args.errors:
            print_errors(args.file, predicted)
    if not args.no_latency:
        if args.db and args.db.startswith("postgresql"):
            database = _postgres_url(args.db)
        else:
            database = nullcontext(args.db) if args.db else _sqlite_url()
        with database as url:
            lat = run_latency(url, args.open, args.links)
        print(f"link_case with {args.open} open cases in one unit ({args.links} links,"
              f" {args.db.split(':')[0] if args.db else 'sqlite file'}):")
        print(f"  p50 {lat['p50']:.2f} ms   p95 {lat['p95']:.2f} ms (target <= 20)   max"
              f" {lat['max']:.2f} ms   candidates read: mean {lat['candidates_mean']:.0f},"
              f" max {lat['candidates_max']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

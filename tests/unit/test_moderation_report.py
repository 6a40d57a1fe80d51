"""`./mttq moderate --eval` on a set written in parts: a set with no spam (or no genuine
messages) says so instead of printing a ratio over nothing, which read like a failed recall."""
from pathlib import Path

from bot.moderation.gate import policy_report


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("label\tkind\ttext\n" + "".join("\t".join(r) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_a_set_without_spam_reports_no_recall(tmp_path: Path) -> None:
    report = policy_report(_write(tmp_path / "reports.tsv", [
        ("allow", "report_spam", "ad ơi xóa giúp cái bình luận mời chơi game bài đổi thưởng dưới bài kia"),
        ("allow", "complaint", "đường ngõ 5 ngập cả tuần nay rồi, đề nghị phường cho người xuống xem"),
    ]))
    assert "spam and scam stopped: no spam in this set" in report
    assert "recall" not in report
    assert "genuine messages refused: 0/2 (target 0)" in report


def test_a_set_of_spam_only_reports_no_refusal_ratio(tmp_path: Path) -> None:
    report = policy_report(_write(tmp_path / "spam.tsv", [
        ("stop", "gambling", "Nổ hũ đổi thưởng uy tín, nạp 100k tặng 88k, link vào game ngay hôm nay"),
    ]))
    assert "genuine messages refused: none in this set" in report
    assert "spam and scam stopped: 1/1 = recall 1.000" in report


def test_eval_over_several_sets_prints_their_sum(tmp_path: Path) -> None:
    """Stop 50: a stop's note quotes the sum over the unread sets; the command prints it, so
    the figure comes from a command anyone can run, not from a script of the session's."""
    import io

    from bot.moderation.__main__ import main

    reports = _write(tmp_path / "reports.tsv", [
        ("allow", "complaint", "đường ngõ 5 ngập cả tuần nay rồi, đề nghị phường cho người xuống xem"),
    ])
    spam = _write(tmp_path / "spam.tsv", [
        ("stop", "gambling", "Nổ hũ đổi thưởng uy tín, nạp 100k tặng 88k, link vào game ngay hôm nay"),
        ("allow", "report_spam", "ad ơi xóa giúp cái bình luận mời chơi game bài đổi thưởng dưới bài kia"),
    ])
    out = io.StringIO()
    assert main(["--eval", str(reports), str(spam)], out=out) == 0
    last = out.getvalue().splitlines()[-1]
    assert last == ("All 2 sets: genuine messages refused 0/2 (target 0), spam and scam stopped 1/1"
                    " = recall 1.000")
    out = io.StringIO()
    assert main(["--eval", str(reports)], out=out) == 0
    assert "All " not in out.getvalue()  # one set: its own lines say it all

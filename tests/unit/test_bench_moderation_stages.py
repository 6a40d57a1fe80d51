"""bench.moderation_stages: every stage is timed on the messages asked, and a share outside
(0, 1] is refused rather than taking apart no message or more than all."""

from __future__ import annotations

import pytest

from bench.moderation_stages import STAGES, main, stage_times


def test_every_stage_is_timed_and_the_rules_take_time() -> None:
    texts = ["Nạp 100k tặng 88k, link vào game ngay tại fb88 (chấm) com, ib zalo 0912345678",
             "Đường ngõ 5 ngập cả tuần nay rồi, đề nghị phường cho người xuống xem: \"vay nhanh\""]
    means = stage_times(texts, rounds=1)
    assert list(means) == list(STAGES)
    assert all(value >= 0 for value in means.values())
    assert means["views"] > 0 and means["rules"] > 0 and means["learned opinion"] > 0


@pytest.mark.parametrize("share", ["0", "1.5", "-0.1"])
def test_a_share_outside_0_to_1_is_refused(share: str) -> None:
    with pytest.raises(SystemExit):
        main(["--share", share])

"""How much ordinary Vietnamese text the policy would refuse (issue 12: at most 0.3%).

The blind sets measure complaints and spam; this measures everything else people write. The
corpus is the test section of the VLSP 2013 part-of-speech data that the installed underthesea
wheel ships with its tagger (``pipeline/pos_tag/models/pos_crf_vlsp2013_*/test_output.txt``):
about 2,100 sentences of news, law and commentary, read from site-packages, never downloaded
and never copied into this repository. It is formal text, so it checks that common words
("làm nhiệm vụ", "đầu tư", "cam kết") are not treated as spam; it says nothing about slang,
which the blind complaint sets cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CorpusReport", "corpus_path", "corpus_report", "read_sentences"]

_NO_SPACE_BEFORE = re.compile(r" ([,.;:!?)\]%])")
_NO_SPACE_AFTER = re.compile(r"([(\[]) ")


def corpus_path() -> Path | None:
    """The tagged test sentences shipped with underthesea, or None when the wheel has none."""
    import importlib.util

    # Located, not imported: moderation must not load the NLU's toolkit (tests/test_architecture.py).
    spec = importlib.util.find_spec("underthesea")
    if spec is None or not spec.submodule_search_locations:
        return None
    models = Path(list(spec.submodule_search_locations)[0]) / "pipeline" / "pos_tag" / "models"
    found = sorted(models.glob("pos_crf_vlsp2013_*/test_output.txt"))
    return found[-1] if found else None


def read_sentences(path: Path, min_words: int = 4) -> list[str]:
    """Sentences of a CoNLL-style file (word in the first column, a blank line between
    sentences), joined back into plain text; fragments under ``min_words`` words are skipped."""
    sentences: list[str] = []
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.strip():
            words.append(line.split("\t", 1)[0])
            continue
        if len(words) >= min_words:
            text = _NO_SPACE_BEFORE.sub(r"\1", " ".join(words))
            sentences.append(_NO_SPACE_AFTER.sub(r"\1", text))
        words = []
    return sentences


@dataclass
class CorpusReport:
    path: Path
    total: int
    refused: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.refused) / self.total if self.total else 0.0

    def summary(self) -> str:
        lines = [f"Ordinary text ({self.path.parent.name}/{self.path.name}, {self.total} sentences): "
                 f"refused {len(self.refused)} = {self.rate:.2%} (target <= 0.30%)"]
        lines += [f"  - refused: {text[:100]}" for text in self.refused[:10]]
        return "\n".join(lines)


def corpus_report(path: Path | None = None, *, learned: bool = True) -> CorpusReport | None:
    """Run the whole policy (rules, the learned second opinion unless ``learned=False``, then
    what the gate does with them) over the corpus."""
    from bot.moderation import load_rules
    from bot.moderation.gate import judge

    path = path or corpus_path()
    if path is None:
        return None
    rules = load_rules()
    sentences = read_sentences(path)
    report = CorpusReport(path, len(sentences))
    for text in sentences:
        gate = judge(text, rules, learned=learned)
        if gate.flagged or gate.insult_only:
            report.refused.append(text)
    return report

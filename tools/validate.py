"""`./mttq validate`: Rasa's data validation plus the project's own checks.

Our checks catch what Rasa does not: the NLU contract of DESIGN.md is complete; no example is
filed under two intents (also when they differ only in case or diacritics); no held-out
evaluation message leaked into training; every programme value has synonyms, examples and
knowledge-base answers; every custom action the domain names is implemented; every response a
rule, story or action uses exists.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT, get_settings
from bot.vietnamese.normalize import fold
from tools.env import child_env, rasa_cmd

CONTRACT_INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "ask_programme",
    "ask_contact", "give_feedback", "submit_petition", "check_status", "request_human",
    "delete_my_data", "inform", "out_of_scope", "subscribe", "unsubscribe",
}
CONTRACT_ENTITIES = {
    "programme", "aspect", "unit", "location", "category", "ref_code", "phone", "person_name",
}
PROGRAMMES = [
    "quy_vi_nguoi_ngheo", "mai_am_dai_doan_ket", "ngay_hoi_dai_doan_ket", "uu_tien_hang_viet",
    "nong_thon_moi_do_thi_van_minh", "giam_sat_phan_bien", "thanh_tra_nhan_dan",
    "giam_sat_dau_tu_cong_dong", "cuu_tro", "hoa_giai_co_so", "bau_cu", "ban_tin", "fanpage",
]
ASPECTS = ["gioi_thieu", "doi_tuong", "cach_tham_gia", "ung_ho", "lien_he", "thoi_gian"]
MIN_EXAMPLES_PER_PROGRAMME = 8


def _load_training() -> Any:
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(ROOT / "nlu_data" / "nlu"))


def check_contract(domain: dict[str, Any]) -> list[str]:
    problems = []
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents", [])}
    entities = {e if isinstance(e, str) else next(iter(e)) for e in domain.get("entities", [])}
    for missing in sorted(CONTRACT_INTENTS - intents):
        problems.append(f"domain.yml: contract intent '{missing}' is missing")
    for missing in sorted(CONTRACT_ENTITIES - entities):
        problems.append(f"domain.yml: contract entity '{missing}' is missing")
    return problems


def check_duplicates(training: Any) -> list[str]:
    seen: dict[str, set[str]] = defaultdict(set)
    texts: dict[str, str] = {}
    for message in training.intent_examples:
        key = fold(message.get("text"))
        seen[key].add(message.get("intent"))
        texts[key] = message.get("text")
    return [
        f"nlu_data: '{texts[key]}' appears under several intents: {', '.join(sorted(intents))}"
        for key, intents in sorted(seen.items())
        if len(intents) > 1
    ]


def check_eval_leak(training: Any) -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    eval_dir = ROOT / "tests" / "data" / "nlu_eval"
    if not eval_dir.is_dir():
        return [f"{eval_dir}: the held-out evaluation split is missing"]
    train_keys = {fold(m.get("text")) for m in training.intent_examples}
    leaked = [
        m.get("text")
        for m in load_data(str(eval_dir)).intent_examples
        if fold(m.get("text")) in train_keys
    ]
    problems = [f"tests/data/nlu_eval: '{t}' is also in the training data" for t in leaked]
    # The blind sets (tests/data/nlu_blind/*.yml) must never reach the training data either.
    # Messages of five syllables or fewer ("xin chao", "an ninh trật tự") are written the same by
    # anyone and are not counted as copies.
    import yaml

    for path in sorted((ROOT / "tests" / "data" / "nlu_blind").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("messages") or []:
            text = str(item.get("text") or "")
            if len(text.split()) > 5 and fold(text) in train_keys:
                problems.append(f"tests/data/nlu_blind/{path.name}: '{text}' is also in the "
                                "training data")
    return problems


def check_programmes(training: Any) -> list[str]:
    problems = []
    counts: dict[str, int] = defaultdict(int)
    for message in training.intent_examples:
        for entity in message.get("entities") or []:
            if entity.get("entity") == "programme":
                counts[str(entity.get("value"))] += 1
    synonyms_for: dict[str, int] = defaultdict(int)
    for _, canonical in training.entity_synonyms.items():
        synonyms_for[canonical] += 1
    for programme in PROGRAMMES:
        if counts[programme] < MIN_EXAMPLES_PER_PROGRAMME:
            problems.append(
                f"nlu_data: programme '{programme}' has {counts[programme]} examples "
                f"(at least {MIN_EXAMPLES_PER_PROGRAMME} needed)"
            )
        if synonyms_for[programme] == 0:
            problems.append(f"nlu_data: programme '{programme}' has no synonyms")
    unknown = sorted(set(counts) - set(PROGRAMMES))
    for value in unknown:
        problems.append(f"nlu_data: unknown programme value '{value}' (not in the contract)")
    problems.extend(_check_knowledge_base())
    return problems


def _check_knowledge_base() -> list[str]:
    try:
        from bot.knowledge.programme_files import load_knowledge_base
        from bot.knowledge.programmes import KnowledgeBaseError, missing_entries
    except ImportError as error:  # pragma: no cover - the module is part of the repository
        return [f"bot/knowledge/programmes.py cannot be imported: {error}"]
    try:
        kb = load_knowledge_base(get_settings().content_dir / "programmes")
    except KnowledgeBaseError as error:
        return [str(error)]
    return [f"content/programmes: {m}" for m in missing_entries(kb, PROGRAMMES)]


#: How far ahead ``./mttq validate`` warns about facts that stop being true (issue 11).
EXPIRY_NOTICE_DAYS = 60


def expiring_facts(days: int = EXPIRY_NOTICE_DAYS, today: Any = None) -> list[str]:
    """Time-bound facts in content/programmes that expire within ``days`` (or already have):
    the assistant then says their ``afterwards`` text, but a trainer should rewrite them."""
    from bot.knowledge.programme_files import load_knowledge_base
    from bot.knowledge.programmes import KnowledgeBaseError, vietnam_today

    try:
        kb = load_knowledge_base(get_settings().content_dir / "programmes")
    except KnowledgeBaseError:
        return []  # reported by the knowledge-base check
    today = today or vietnam_today()
    notes = []
    for programme in kb.programmes:
        for aspect, until in programme.expiring_within(days, today):
            state = "expired" if until < today else f"expires in {(until - today).days} days"
            notes.append(f"content/programmes/{programme.programme}.yml: {aspect} is true until "
                         f"{until:%d/%m/%Y} ({state}); rewrite 'text' and 'afterwards'")
    return notes


def check_actions(domain: dict[str, Any]) -> list[str]:
    """Every custom action in the domain is implemented, and every response it utters exists."""
    import importlib
    import pkgutil

    from rasa_sdk import Action

    import actions

    for module in pkgutil.iter_modules(actions.__path__):
        importlib.import_module(f"actions.{module.name}")
    implemented: set[str] = set()
    stack = list(Action.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        try:
            implemented.add(cls().name())
        except Exception:  # noqa: BLE001 - abstract bases
            continue
    problems = [
        f"domain.yml: action '{name}' has no implementation in actions/"
        for name in domain.get("actions", [])
        if name.startswith("action_") and name not in implemented
    ]
    responses = set(domain.get("responses", {}))
    for path in sorted((ROOT / "actions").glob("*.py")):
        for name in re.findall(r"['\"](utter_[a-z0-9_]+)['\"]", path.read_text(encoding="utf-8")):
            if name not in responses:
                problems.append(f"{path.relative_to(ROOT)}: response '{name}' is not in domain.yml")
    return problems


def validate() -> int:
    print("Rasa data validation ...", flush=True)
    rasa_rc = subprocess.run(
        rasa_cmd(
            "data", "validate",
            "--domain", "domain.yml",
            "--data", "nlu_data",
            "--config", "config.yml",
        ),
        cwd=ROOT,
        env=child_env(),
    ).returncode
    print("Project checks ...", flush=True)
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    training = _load_training()
    problems = [
        *check_contract(domain),
        *check_duplicates(training),
        *check_eval_leak(training),
        *check_programmes(training),
        *check_actions(domain),
    ]
    for problem in problems:
        print(f"  - {problem}")
    notes = expiring_facts()
    print(f"Facts that expire within {EXPIRY_NOTICE_DAYS} days: {len(notes) or 'none'}")
    for note in notes:
        print(f"  ! {note}")
    if rasa_rc != 0:
        print("FAIL: Rasa's data validation reported errors (above).")
    if problems:
        print(f"FAIL: {len(problems)} problem(s) in the project checks.")
    if rasa_rc == 0 and not problems:
        print("OK: training data, domain, content and actions are consistent.")
        return 0
    return 1


def main() -> int:  # pragma: no cover
    return validate()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["validate", "Path"]

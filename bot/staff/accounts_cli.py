"""``./mttq accounts …`` (or ``python -m bot.staff.accounts_cli …``): staff accounts from a terminal.

``create --login lan --unit p_lang --role officer [--password-stdin]``, also ``list``,
``disable``, ``enable``, ``set-password``, ``token``; run ``--help`` for details. Kept apart from
``bot.staff.accounts`` so the web service does not carry argument parsing and terminal prompts;
this module only parses, asks for passwords and prints (in Vietnamese, for the administrator).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from sqlalchemy.orm import Session

from bot.db.models import Staff, StaffRole
from bot.staff.accounts import (
    AccountError,
    create_api_token,
    create_staff,
    find_staff,
    list_staff,
    normalise_login,
    set_active,
    set_password,
)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AccountError("Không có bàn phím: hãy dùng --password-stdin.")
    first = getpass.getpass("Mật khẩu mới: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        raise AccountError("Hai lần nhập mật khẩu không khớp.")
    return first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.staff.accounts_cli", description="Quản lý tài khoản cán bộ (staff accounts)."
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL / settings")
    sub = parser.add_subparsers(dest="command", required=True)

    create = sub.add_parser("create", help="create an account")
    create.add_argument("--login", required=True)
    create.add_argument("--unit", required=True, help="unit code, e.g. p_lang")
    create.add_argument("--role", required=True, choices=[r.value for r in StaffRole])
    create.add_argument("--name", help="display name, e.g. 'Nguyễn Thị Lan'")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )

    listing = sub.add_parser("list", help="list accounts")
    listing.add_argument("--unit", help="only this unit")

    for name, text in (("disable", "disable an account"), ("enable", "enable an account")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--login", required=True)

    setpw = sub.add_parser("set-password", help="set a new password (signs the account out)")
    setpw.add_argument("--login", required=True)
    setpw.add_argument("--password-stdin", action="store_true")

    token = sub.add_parser("token", help="create a JSON API token (printed once)")
    token.add_argument("--login", required=True)
    token.add_argument("--label", help="what the token is for")
    return parser


def _require(session: Session, login: str) -> Staff:
    staff = find_staff(session, login)
    if staff is None:
        raise AccountError(f"Không tìm thấy tài khoản {normalise_login(login)!r}.")
    return staff


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from bot.db.engine import make_engine, session_scope
    from bot.db.migrate import upgrade_to_head
    from bot.knowledge.unit_sync import sync_units
    from bot.knowledge.units import load_units
    from bot.settings import get_settings

    settings = get_settings()
    url = args.database_url or settings.database_url
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        password = _read_password(args) if args.command in ("create", "set-password") else ""
        with session_scope(engine) as session:
            if args.command == "create":
                sync_units(session, load_units(settings.units_file))
                staff = create_staff(
                    session,
                    login=args.login,
                    unit_code=args.unit,
                    role=args.role,
                    password=password,
                    display_name=args.name,
                )
                print(f"Đã tạo tài khoản {staff.login} ({staff.role.value}, {staff.unit_code}).")
            elif args.command == "list":
                units = [args.unit] if args.unit else None
                for staff in list_staff(session, units):
                    state = "hoạt động" if staff.active else "đã khoá"
                    print(
                        f"{staff.id}\t{staff.login}\t{StaffRole(staff.role).value}\t"
                        f"{staff.unit_code}\t{state}\t{staff.display_name or ''}"
                    )
            elif args.command in ("disable", "enable"):
                staff = _require(session, args.login)
                set_active(session, staff.id, args.command == "enable")
                print(f"Đã {'mở khoá' if args.command == 'enable' else 'khoá'} {staff.login}.")
            elif args.command == "set-password":
                staff = _require(session, args.login)
                set_password(session, staff.id, password)
                print(f"Đã đặt mật khẩu mới cho {staff.login}.")
            elif args.command == "token":
                staff = _require(session, args.login)
                raw = create_api_token(session, staff.id, args.label)
                print(f"Mã truy cập API cho {staff.login} (chỉ hiện một lần):", file=sys.stderr)
                print(raw)
    except AccountError as error:
        print(f"Lỗi: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

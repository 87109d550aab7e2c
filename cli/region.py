"""`incidents region new NAME --municipalities FILE [--boundaries FILE]`: a new region folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.context import EXIT_OK, Context, console


def cmd_region_new(ctx: Context, args: argparse.Namespace) -> int:
    from core.config import load_region
    from core.settings import PROJECT_ROOT
    from incidents.services.region_scaffold import scaffold_region

    folder = Path(args.dir) if args.dir else PROJECT_ROOT / "config" / "regions" / args.name
    made = scaffold_region(
        folder,
        Path(args.municipalities),
        title=args.title,
        boundaries=Path(args.boundaries) if args.boundaries else None,
        timezone=args.timezone,
    )
    cfg = load_region(made.folder)  # what was written loads, or this is a bug worth an error
    console.print(f"Регион «{cfg.region.name}»: {made.folder}", highlight=False)
    console.print(f"  файлы: {', '.join(made.files)}; муниципалитетов {len(cfg.territories.municipalities)}")
    if made.unmatched_boundaries:
        console.print(
            f"  границы без муниципалитета (не взяты): {', '.join(made.unmatched_boundaries[:10])}",
            highlight=False,
        )
    console.print(f"Дальше: incidents --config {made.folder} check-config; по шагам — docs/new-region.md")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    region = sub.add_parser("region", help="регионы: создать папку конфигурации нового региона")
    rsub = region.add_subparsers(dest="region_command", required=True, metavar="ДЕЙСТВИЕ")
    s = rsub.add_parser(
        "new",
        help="новый регион на общей русской базе (config/base/ru) из списка муниципалитетов",
        description="Создаёт config/regions/NAME: файлы с комментариями; check-config скажет, чего не хватает.",
    )
    s.add_argument("name", help="код региона и имя папки (латиницей: belgorod)")
    s.add_argument(
        "--municipalities",
        required=True,
        metavar="CSV",
        help="муниципалитеты: name, kind, lat, lon, необязательно oktmo и settlements (через «;»)",
    )
    s.add_argument(
        "--boundaries", metavar="GEOJSON", help="границы муниципалитетов (properties: name, code или oktmo)"
    )
    s.add_argument("--title", help="название по-русски («Белгородская область»)")
    s.add_argument(
        "--timezone", default="Europe/Moscow", help="часовой пояс IANA (по умолчанию Europe/Moscow)"
    )
    s.add_argument("--dir", help="куда писать (по умолчанию config/regions/NAME)")
    s.set_defaults(func=cmd_region_new)

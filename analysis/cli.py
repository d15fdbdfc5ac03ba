"""Subcommands of the analysis package for run_emulation.py.

    run_emulation.py summarize DIR               # summary.json / summary.csv, table on stdout
    run_emulation.py report DIR [--out FILE] [--images DIR2]  # DIR/report.html (+ SVG/PNG)
    run_emulation.py compare DIR1 DIR2 [--out FILE]

DIR is a results directory or a sweep directory (analysis/RESULTS_FORMAT.md).
The `sweep` command that runs experiments belongs to the runner, which calls
analysis.sweep.run_sweep.
"""


def register(subparsers):
    """Add this package's subcommands to run_emulation.py's parser."""
    summarize = subparsers.add_parser(
        "summarize", help="compute the metrics of a results or sweep directory",
        description="Write summary.json and summary.csv into DIR (and into each point of a "
                    "sweep) and print the headline metrics.")
    summarize.add_argument("dir", metavar="DIR", help="results or sweep directory")
    summarize.add_argument("--reference", metavar="SCHEDULER",
                           help="compare the others with this scheduler (default: the one "
                                "run.json or sweep.json names)")
    summarize.set_defaults(func=summarize_command)

    report = subparsers.add_parser(
        "report", help="write the interactive HTML report of a results or sweep directory",
        description="Write one self-contained HTML file (plotly.js inlined, opens offline) "
                    "with every figure, after updating the summaries.")
    report.add_argument("dir", metavar="DIR", help="results or sweep directory")
    report.add_argument("--out", metavar="FILE", help="output file (default: DIR/report.html)")
    report.add_argument("--request", metavar="ID",
                        help="request shown in the Gantt view (default: the one with the "
                             "most promotions)")
    report.add_argument("--point", metavar="VALUE", type=float,
                        help="sweep point detailed below the sweep figures (default: where "
                             "the schedulers' SLO attainments differ most)")
    report.add_argument("--images", metavar="DIR",
                        help="also save each figure as a static file in DIR (needs kaleido "
                             "and Chromium)")
    report.add_argument("--image-format", choices=("svg", "png"), default="svg",
                        help="format of --images (default: svg)")
    report.set_defaults(func=report_command)

    compare = subparsers.add_parser(
        "compare", help="put two runs (or two sweeps) side by side in one HTML file",
        description="Compare two results directories, or two sweep directories.")
    compare.add_argument("dirs", metavar="DIR", nargs=2, help="results or sweep directories")
    compare.add_argument("--out", metavar="FILE",
                         help="output file (default: ./compare-<A>-vs-<B>.html)")
    compare.add_argument("--images", metavar="DIR",
                         help="also save each figure as a static file in DIR (needs kaleido "
                              "and Chromium)")
    compare.add_argument("--image-format", choices=("svg", "png"), default="svg",
                         help="format of --images (default: svg)")
    compare.set_defaults(func=compare_command)


def summarize_command(args):
    # Imported here so that building the parser does not load pandas and plotly.
    from analysis.results_dir import RunResults, is_sweep_dir
    from analysis.summary import headline_text, write_run_summary

    if is_sweep_dir(args.dir):
        from analysis.report import sweep_headline
        from analysis.sweep import load_sweep, write_sweep_summary
        sweep = load_sweep(args.dir)
        summary, points = write_sweep_summary(sweep, reference=args.reference)
        for value, point in points.items():
            print(f"== {sweep.parameter}={value:g}")
            print(headline_text(point))
        print("== sweep")
        print("\n".join(sweep_headline(summary, sweep.info)))
        print(f"wrote {sweep.directory / 'summary.json'} and summary.csv")
        return 0
    run = RunResults(args.dir)
    summary = write_run_summary(run, reference=args.reference)
    print(headline_text(summary))
    print(f"wrote {run.directory / 'summary.json'} and summary.csv")
    return 0


def report_command(args):
    from analysis.report import write_report
    path = write_report(args.dir, args.out, request_id=args.request, point=args.point,
                        images=args.images, image_format=args.image_format)
    print(f"wrote {path}")
    if args.images:
        print(f"wrote the figures as {args.image_format} files into {args.images}")
    return 0


def compare_command(args):
    from analysis.compare import write_compare
    path, text = write_compare(args.dirs[0], args.dirs[1], args.out, args.images,
                               args.image_format)
    print(text)
    print(f"wrote {path}")
    if args.images:
        print(f"wrote the figures as {args.image_format} files into {args.images}")
    return 0

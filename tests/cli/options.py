"""Every command parses its options the same way (issue 18, point 4). For each
command that `vtag --help` lists (backbone as its train and predict):
  - an unknown long option (after an operand, with a value): exit 2 and exactly one stderr line,
    "vtag CMD: unknown option '--X' (vtag CMD --help lists the options)";
  - a misspelt option (one of the command's own, from its --help, two letters
    swapped): the same line with "did you mean '--OPTION'?";
  - an option that takes a value, given last without one: exit 2 and
    "vtag CMD: option '--OPTION' needs a value";
  - -h prints the help (exit 0); every short option whose long form the help
    lists is shown as "-X, --LONG" there and is accepted (the parser goes on to
    the unknown option after it, which is the one reported);
and `vtag tga` suggests tag, `vtag --bogus` is an unknown option.

usage: options.py VTAG   (stdlib only)
"""
import concurrent.futures
import re
import subprocess
import sys

vtag = sys.argv[1]
failures = []
SHORTS = {"h": ["help"], "o": ["out", "output"], "j": ["threads"], "q": ["quiet"], "v": ["verbose"],
          "l": ["labels"], "m": ["model"], "b": ["backbone"]}
VALUE = {"j": "2", "m": "fc"}  # a value each command accepts (the model type for vtag train)
BOGUS = "--bogus-option-xyz"


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL", what)


def run(args):
    r = subprocess.run([vtag] + args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def osa(a, b):
    """Edit distance with a swap of neighbours as one edit (as tools/cli.c)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def unknown_line(cmd, opt, near=None):
    hint = "did you mean '--%s'?; " % near if near else ""
    return "vtag %s: unknown option '%s' (%svtag %s --help lists the options)\n" % (cmd, opt, hint, cmd)


rc, out, err = run(["--help"])
check(rc == 0, "vtag --help: exit %d" % rc)
commands = re.findall(r"^  ([a-z][a-z-]*) ", out.split("\ncommands:\n", 1)[1], re.M)
check(len(commands) >= 15 and "tag" in commands, "commands parsed from vtag --help: %s" % commands)

def check_command(cmd):
        rc, help_text, err = run([cmd, "--help"])
        check(rc == 0 and help_text.startswith("usage:"), "vtag %s --help: exit %d, %r" % (cmd, rc, help_text[:40]))
        parts = [([cmd], help_text)]
        if cmd == "backbone":
            train, predict = help_text.split("\npredict:", 1)
            parts = [([cmd, "train"], train), ([cmd, "predict"], predict)]
        for argv, text in parts:
            name = " ".join(argv)
            # the options the help lists: lines that start with an option, and options after it on the line
            # and usage lines, without their remarks in parentheses (backbone's name each subcommand's options)
            lines = [l for l in text.split("\n") if re.match(r"\s+(-\w, )?--[a-z]", l)]
            lines += [re.sub(r"\([^)]*\)", "", l) for l in text.split("\n")
                      if re.match(r"(usage:)?\s+(vtag |\[)", l) and (cmd != "backbone" or name in l)]
            opts = sorted(set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", "\n".join(lines))))
            valued = sorted(set(re.findall(r"(?:^|[\s\[])--([a-z][a-z0-9-]*)[ =](?:\[?[A-Z]|[a-z0-9]+\|)", "\n".join(lines),
                                           re.M)))
            # an unknown option: exactly one line, exit 2
            rc, out, err = run(argv + ["x", BOGUS + "=1"])
            check(rc == 2 and err == unknown_line(cmd, BOGUS), "%s %s=1 after an operand: exit %d, stderr %r" % (
                name, BOGUS, rc, err))
            # a misspelt option: its suggestion (swap two letters; the typo must be nearest to it alone and not
            # the start of another option, which getopt would take as an abbreviation)
            picked = None
            for o in sorted(opts, key=lambda o: (-len(o), o)):
                typo = o[0] + o[2] + o[1] + o[3:]
                if len(o) >= 4 and typo != o and not any(p.startswith(typo) for p in opts) and all(
                        osa(typo, p) > 2 for p in opts if p != o):
                    picked = (o, typo)
                    break
            check(picked is not None or len(opts) < 2, "%s: no option to misspell among %s" % (name, opts))
            if picked:
                rc, out, err = run(argv + ["--" + picked[1]])
                check(rc == 2 and err == unknown_line(cmd, "--" + picked[1], picked[0]),
                      "%s --%s: exit %d, stderr %r" % (name, picked[1], rc, err))
            # a missing value, for the last option that takes one
            for o in valued[-1:]:
                rc, out, err = run(argv + ["--" + o])
                check(rc == 2 and err == "vtag %s: option '--%s' needs a value\n" % (cmd, o),
                      "%s --%s (no value): exit %d, stderr %r" % (name, o, rc, err))
            # -h, and every short option the command has
            rc, out, err = run(argv + ["-h"])
            check(rc == 0 and out.startswith("usage:") and not err, "%s -h: exit %d, %r" % (name, rc, err))
            given = []  # every short option at once: each is accepted, then the unknown one is reported
            for letter, longs in SHORTS.items():
                long = next((l for l in longs if l in opts), None)
                if not long:
                    continue
                check("-%s, --%s" % (letter, long) in text, "%s --help lists -%s, --%s" % (name, letter, long))
                if letter != "h":
                    given += ["-" + letter] + ([VALUE.get(letter, "x")] if long in valued else [])
            rc, out, err = run(argv + given + [BOGUS])
            check(rc == 2 and err == unknown_line(cmd, BOGUS), "%s %s %s: exit %d, stderr %r" % (
                name, " ".join(given), BOGUS, rc, err))
            print("%s: %d options, %d with a value, misspelt %s, shorts %s" % (name, len(opts), len(valued), picked,
                                                                               " ".join(given)))


# the commands in parallel: each run only parses options
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(check_command, commands))

# commands: did you mean
rc, out, err = run(["tga"])
check(rc == 2 and err == "vtag: unknown command 'tga' (did you mean 'tag'?; vtag --help lists the commands)\n",
      "vtag tga: exit %d, stderr %r" % (rc, err))
rc, out, err = run(["pipelin"])
check(rc == 2 and "did you mean 'pipeline'?" in err, "vtag pipelin: exit %d, stderr %r" % (rc, err))
rc, out, err = run(["zzzzzz"])
check(rc == 2 and err == "vtag: unknown command 'zzzzzz' (vtag --help lists the commands)\n",
      "vtag zzzzzz: exit %d, stderr %r" % (rc, err))
rc, out, err = run([BOGUS])
check(rc == 2 and err == "vtag: unknown option '%s' (vtag --help lists the options)\n" % BOGUS,
      "vtag %s: exit %d, stderr %r" % (BOGUS, rc, err))
# a short option the command lacks, an option given a value it does not take, an ambiguous abbreviation
rc, out, err = run(["probe", "-x"])
check(rc == 2 and err == unknown_line("probe", "-x"), "probe -x: exit %d, stderr %r" % (rc, err))
rc, out, err = run(["probe", "--verbose=1", "a.mp4"])
check(rc == 2 and err == "vtag probe: option '--verbose' takes no value\n", "probe --verbose=1: %d %r" % (rc, err))
rc, out, err = run(["tag", "--s", "x"])
check(rc == 2 and err.startswith("vtag tag: ambiguous option '--s' (could be ") and err.count("\n") == 1,
      "tag --s: exit %d, stderr %r" % (rc, err))
rc, out, err = run(["frames", "-o"])
check(rc == 2 and err == "vtag frames: option '-o' needs a value\n", "frames -o: exit %d, stderr %r" % (rc, err))

print("%d commands, %d failures" % (len(commands), len(failures)))
sys.exit(1 if failures else 0)

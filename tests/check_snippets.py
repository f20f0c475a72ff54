#!/usr/bin/env python3
"""Every code block the README and docs/ show must still work.

usage: check_snippets.py --cc CC --lib LIBCONVROUTE.so --src SOURCE_DIR
                         --work DIR [FILE.md ...]

- A ```c block with an `#include` is a whole translation unit: compiled
  with -std=c11 -Wall -Wextra -Werror against include/convroute.h; when it
  has `int main(`, it is linked against the shared library and run, and
  must exit 0.
- A ```c block without `#include` is a fragment (a few statements): it is
  compiled inside a function body, after the declarations given by an HTML
  comment `<!-- c-prelude: ... -->` on the line before the fence. Unused
  variables are allowed there, nothing else.
- A ```python block is run with the package on PYTHONPATH and the library
  in CONVROUTE_LIB, from the source directory; `<!-- no-run -->` before the
  fence makes it compile only (for blocks that need a terminal or a server).

So a change to the header that breaks what a newcomer copies fails a test,
not the newcomer.
"""
import argparse
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^```(\w*)\s*$")
PRELUDE = re.compile(r"<!--\s*c-prelude:(.*?)-->")
NO_RUN = re.compile(r"<!--\s*no-run\s*-->")


def blocks(path):
    """Yields (lang, first_line_no, text, marker_line) for each fence."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group(1):
            lang, start = m.group(1), i + 1
            marker = lines[i - 1] if i > 0 else ""
            j = start
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if j == len(lines):
                raise SystemExit(f"{path}:{i + 1}: unterminated ``` block")
            yield lang, start, "\n".join(lines[start:j]) + "\n", marker
            i = j + 1
        else:
            i += 1


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          **kw)


def check_c(a, name, text, marker):
    src = os.path.join(a.work, name + ".c")
    inc = os.path.join(a.src, "include")
    flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I", inc]
    whole = "#include" in text
    if not whole:
        m = PRELUDE.search(marker)
        prelude = m.group(1).strip() if m else ""
        text = ("#include <convroute.h>\n#include <stdio.h>\n"
                "#include <stdint.h>\n#include <string.h>\n"
                "void snippet(void);\nvoid snippet(void) {\n"
                f"{prelude}\n#line 1\n{text}}}\n")
        flags += ["-Wno-unused-variable", "-Wno-unused-but-set-variable"]
    with open(src, "w", encoding="utf-8") as f:
        f.write(text)
    if whole and re.search(r"\bint\s+main\s*\(", text):
        exe = os.path.join(a.work, name)
        libdir = os.path.dirname(os.path.abspath(a.lib))
        r = run([a.cc, *flags, src, "-o", exe, a.lib,
                 "-Wl,-rpath," + libdir, "-lm"])
        if r.returncode:
            return "compile/link failed:\n" + r.stderr
        r = run([exe], cwd=a.src)
        if r.returncode:
            return f"exited {r.returncode}:\n{r.stdout}{r.stderr}"
        return None
    r = run([a.cc, *flags, "-c", src, "-o", os.path.join(a.work, name + ".o")])
    return "compile failed:\n" + r.stderr if r.returncode else None


def check_python(a, name, text, marker):
    if NO_RUN.search(marker):
        try:
            compile(text, name, "exec")
            return None
        except SyntaxError as e:
            return f"syntax error: {e}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(a.src, "bindings", "python")
    env["CONVROUTE_LIB"] = os.path.abspath(a.lib)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    r = run([sys.executable, "-c", text], cwd=a.src, env=env)
    return (f"exited {r.returncode}:\n{r.stdout}{r.stderr}"
            if r.returncode else None)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cc", required=True)
    p.add_argument("--lib", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("files", nargs="*")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    files = a.files or [os.path.join(a.src, "README.md")] + sorted(
        os.path.join(a.src, "docs", f)
        for f in os.listdir(os.path.join(a.src, "docs")) if f.endswith(".md"))
    checked = failed = 0
    for path in files:
        rel = os.path.relpath(path, a.src)
        for lang, line, text, marker in blocks(path):
            check = {"c": check_c, "python": check_python}.get(lang)
            if not check:
                continue
            name = re.sub(r"\W", "_", rel) + f"_{line}"
            err = check(a, name, text, marker)
            checked += 1
            if err:
                failed += 1
                print(f"FAIL {rel}:{line} ({lang}): {err}")
            else:
                print(f"ok   {rel}:{line} ({lang})")
    print(f"{checked} snippets, {failed} failed")
    if checked == 0:
        print("no snippets found: wrong --src?")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

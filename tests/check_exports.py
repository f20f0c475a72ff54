#!/usr/bin/env python3
"""Every symbol the shared library exports starts with cr_, and the set of
exported functions is exactly the set the header declares with CR_EXTERN."""
import re
import subprocess
import sys


def main(lib, header):
    out = subprocess.run(["nm", "-D", "--defined-only", lib],
                         check=True, capture_output=True, text=True).stdout
    exported = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVWiu":
            exported.add(parts[2].split("@")[0])
    bad = sorted(s for s in exported if not s.startswith("cr_"))
    text = open(header, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^\s*#.*?(?<!\\)$", "", text, flags=re.M | re.S)
    declared = set()
    for decl in re.findall(r"CR_EXTERN\s+([^;{]*?)\(", text):
        name = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", decl)[-1]
        declared.add(name)
    missing = sorted(declared - exported)
    extra = sorted(s for s in exported - declared if s.startswith("cr_"))
    ok = True
    if bad:
        print("exported without the cr_ prefix:", ", ".join(bad))
        ok = False
    if missing:
        print("declared in the header but not exported:", ", ".join(missing))
        ok = False
    if extra:
        print("exported but not in the header:", ", ".join(extra))
        ok = False
    print("%d symbols exported, %d declared" % (len(exported), len(declared)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

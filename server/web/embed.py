#!/usr/bin/env python3
# embed.py OUT FILE...: web_assets.c, the files of the web page as
# arrays (struct web_asset, server/web.h), so that the REST worker,
# which opens no file in its sandbox, serves them from memory.  Run by
# meson at build time; no other step.
import os
import sys

TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}

out = sys.argv[1]
lines = ["/* made by server/web/embed.py from server/web/: do not edit */",
         "#include <stddef.h>", "", '#include "web.h"', ""]
names = []
for i, path in enumerate(sys.argv[2:]):
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1]
    if ext not in TYPES:
        sys.exit("embed.py: %s: no type known for %s" % (path, ext))
    with open(path, "rb") as f:
        data = f.read()
    lines.append("static const unsigned char asset%d[] = {" % i)
    for j in range(0, len(data), 12):
        lines.append("\t" + ", ".join("0x%02x" % b for b in data[j:j + 12])
                     + ",")
    lines.append("};")
    names.append((name, TYPES[ext], i))
lines.append("")
lines.append("const struct web_asset web_assets[] = {")
for name, typ, i in names:
    lines.append('\t{ "%s", "%s", asset%d, sizeof(asset%d) },'
                 % (name, typ, i, i))
lines.append("\t{ NULL, NULL, NULL, 0 }")
lines.append("};")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")

#!/usr/bin/env python3
"""
Does each prototype of a program's header sit under the label of the
file that defines it?  The style: one header per program, its
prototypes grouped under /* file.c */ comments.

	headerlabels.py HEADER OBJDIR [HEADER OBJDIR...]

OBJDIR: the program's object directory (BUILD/server/sc-server.p), whose
objects (nm) say which file defines what.  Prints each prototype that
is under another file's label, or under none, and each label found
twice; exits 1 if there is one.
"""
import os
import re
import subprocess
import sys

LABEL = re.compile(r'^/\* ([\w.-]+\.c)\b')
# a declaration at the start of a line: a return type, then name(
PROTO = re.compile(r'^(?!#|\s|typedef|struct\s+\w+\s*\{|/?\*)'
    r'[\w\s\*]*?\b([a-z_]\w*)\s*\(')


def defined(objdir):
	owner = {}
	for name in sorted(os.listdir(objdir)):
		if not name.endswith('.c.o') or name.startswith('..'):
			continue
		out = subprocess.run(['nm', '--defined-only',
		    os.path.join(objdir, name)], check=True,
		    capture_output=True, text=True).stdout
		for line in out.splitlines():
			parts = line.split()
			if len(parts) == 3 and parts[1] in 'TDBR':
				owner[parts[2]] = name[:-2]
	return owner


def check(header, objdir):
	owner = defined(objdir)
	label, bad, seen = None, 0, set()
	with open(header) as f:
		for n, line in enumerate(f, 1):
			m = LABEL.match(line)
			if m:
				label = m.group(1)
				if label in seen:
					print('%s:%d: a second /* %s */' % (
					    header, n, label))
					bad = 1
				seen.add(label)
				continue
			m = PROTO.match(line)
			if not m or m.group(1).startswith('__'):
				continue
			name = m.group(1)
			where = owner.get(name)
			if where is None or where == label:
				continue
			print('%s:%d: %s is in %s, under %s' % (header, n, name,
			    where, '/* %s */' % label if label else
			    'no label'))
			bad = 1
	return bad


def main(argv):
	if len(argv) < 2 or len(argv) % 2:
		sys.exit(__doc__)
	bad = 0
	for i in range(0, len(argv), 2):
		bad |= check(argv[i], argv[i + 1])
	return bad


if __name__ == '__main__':
	sys.exit(main(sys.argv[1:]))

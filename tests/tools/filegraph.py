#!/usr/bin/env python3
"""
The call graph between the files of one program, from its object files:
file A uses file B when A.o needs (nm: U) a symbol that B.o defines
(nm: T, D, B, R).  Calls and references to variables both count, macros
are expanded (the compiler did it), static functions never show.

	filegraph.py [-c] DIR...

DIR: a program's object directory (BUILD/controller/sc.p).  Prints each
file that uses others, with what it uses of each, then the cycles
(strongly connected components of two files or more).  With -c it exits
1 when there is a cycle: a hub may be called, it does not call back.
"""
import os
import subprocess
import sys


def symbols(obj):
	defined, needed = set(), set()
	out = subprocess.run(['nm', obj], check=True, capture_output=True,
	    text=True).stdout
	for line in out.splitlines():
		parts = line.split()
		if len(parts) == 2 and parts[0] == 'U':
			needed.add(parts[1])
		elif len(parts) == 3 and parts[1] in 'TDBRCVW':
			defined.add(parts[2])
	return defined, needed


def sccs(nodes, edges):
	"""Tarjan's strongly connected components."""
	index, low, stack, on, out = {}, {}, [], set(), []

	def visit(v):
		index[v] = low[v] = len(index)
		stack.append(v)
		on.add(v)
		for w in sorted(edges.get(v, ())):
			if w not in index:
				visit(w)
				low[v] = min(low[v], low[w])
			elif w in on:
				low[v] = min(low[v], index[w])
		if low[v] == index[v]:
			comp = []
			while True:
				w = stack.pop()
				on.discard(w)
				comp.append(w)
				if w == v:
					break
			out.append(sorted(comp))

	for v in sorted(nodes):
		if v not in index:
			visit(v)
	return out


def graph(objdir):
	files = {}
	for name in sorted(os.listdir(objdir)):
		# a file of another directory (common/evread.c) is left out
		if name.endswith('.c.o') and not name.startswith('..'):
			files[name[:-2]] = symbols(os.path.join(objdir, name))
	owner = {}
	for f, (defined, _) in files.items():
		for s in defined:
			owner[s] = f
	edges = {}
	for f, (_, needed) in files.items():
		for s in needed:
			g = owner.get(s)
			if g is not None and g != f:
				edges.setdefault(f, {}).setdefault(g,
				    set()).add(s)
	return files, edges


def main(argv):
	check = False
	if argv and argv[0] == '-c':
		check = True
		argv = argv[1:]
	if not argv:
		sys.exit(__doc__)
	status = 0
	for objdir in argv:
		files, edges = graph(objdir)
		print('%s: %d files' % (objdir, len(files)))
		for f in sorted(edges):
			print('  %s ->' % f)
			for g in sorted(edges[f]):
				print('    %-14s %s' % (g, ' '.join(
				    sorted(edges[f][g]))))
		cycles = [c for c in sccs(files, edges) if len(c) > 1]
		for c in cycles:
			print('  CYCLE: %s' % ' '.join(c))
			status = 1
		if not cycles:
			print('  no cycles')
	return status if check else 0


if __name__ == '__main__':
	sys.exit(main(sys.argv[1:]))

/*
 * A libFuzzer-compatible driver for any compiler: runs
 * LLVMFuzzerTestOneInput() on every file of the given corpus directories
 * (or files), then on a bounded number of mutations of them drawn from a
 * fixed seed, so that a run is repeatable.  A crash, a sanitizer report
 * or an abort() in the target fails the run.
 *
 *	standalone [-n mutations] [-s seed] [-m maxlen] [-v] path ...
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

struct input {
	uint8_t		*data;
	size_t		 len;
	char		*name;
};

static struct input	*inputs;
static size_t		 ninputs, inputs_cap;
static size_t		 maxlen = 65536;
static uint64_t		 rng_state;
static int		 verbose;

static uint64_t
rng(void)
{
	/* xorshift64*: enough for picking mutations */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 2685821657736338717ULL);
}

static size_t
rng_below(size_t n)
{
	return (n == 0 ? 0 : (size_t)(rng() % n));
}

static void
add_input(uint8_t *data, size_t len, const char *name)
{
	if (ninputs == inputs_cap) {
		inputs_cap = inputs_cap ? inputs_cap * 2 : 64;
		inputs = reallocarray(inputs, inputs_cap, sizeof(*inputs));
		if (inputs == NULL)
			err(1, "reallocarray");
	}
	inputs[ninputs].data = data;
	inputs[ninputs].len = len;
	if ((inputs[ninputs].name = strdup(name)) == NULL)
		err(1, "strdup");
	ninputs++;
}

static void
load_file(const char *path)
{
	FILE	*f;
	uint8_t	*buf;
	size_t	 len;

	if ((f = fopen(path, "rb")) == NULL)
		err(1, "%s", path);
	if ((buf = malloc(maxlen ? maxlen : 1)) == NULL)
		err(1, "malloc");
	len = fread(buf, 1, maxlen, f);
	if (ferror(f))
		err(1, "%s", path);
	fclose(f);
	add_input(buf, len, path);
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char * const *)a, *(char * const *)b));
}

static void
load_path(const char *path)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		**names = NULL, full[PATH_MAX];
	size_t		 n = 0, cap = 0, i;

	if (stat(path, &st) == -1)
		err(1, "%s", path);
	if (!S_ISDIR(st.st_mode)) {
		load_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		err(1, "%s", path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = reallocarray(names, cap,
			    sizeof(*names))) == NULL)
				err(1, "reallocarray");
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			err(1, "strdup");
	}
	closedir(d);
	/* a fixed order, so that a run is repeatable */
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(full, sizeof(full), "%s/%s", path, names[i]);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			load_file(full);
		free(names[i]);
	}
	free(names);
}

static const uint8_t	 interesting8[] = { 0, 1, 0x7f, 0x80, 0xff, 16 };
static const uint16_t	 interesting16[] = { 0, 1, 0x3fff, 0x4000, 0x4001,
			    0x7fff, 0x8000, 0xffff, 16, 12 };
static const uint32_t	 interesting32[] = { 0, 1, 0x7fffffff, 0x80000000,
			    0xffffffff, 0x40000, 0x1000000 };

/* mutate buf (len bytes, room for cap) in place; returns the new length */
static size_t
mutate(uint8_t *buf, size_t len, size_t cap)
{
	size_t	 pos, n, i, k;
	uint16_t v16;
	uint32_t v32;
	int	 rounds = 1 + rng_below(4);

	while (rounds-- > 0) {
		switch (rng_below(11)) {
		case 0:		/* flip a bit */
			if (len)
				buf[rng_below(len)] ^= 1 << rng_below(8);
			break;
		case 1:		/* random byte */
			if (len)
				buf[rng_below(len)] = rng();
			break;
		case 2:		/* interesting byte */
			if (len)
				buf[rng_below(len)] = interesting8[
				    rng_below(sizeof(interesting8))];
			break;
		case 3:		/* interesting u16, either byte order */
			if (len >= 2) {
				v16 = interesting16[rng_below(
				    sizeof(interesting16) / 2)];
				if (rng() & 1)
					v16 = (uint16_t)((v16 >> 8) |
					    (v16 << 8));
				memcpy(buf + rng_below(len - 1), &v16, 2);
			}
			break;
		case 4:		/* interesting u32 */
			if (len >= 4) {
				v32 = interesting32[rng_below(
				    sizeof(interesting32) / 4)];
				if (rng() & 1)
					v32 = __builtin_bswap32(v32);
				memcpy(buf + rng_below(len - 3), &v32, 4);
			}
			break;
		case 5:		/* truncate */
			len = rng_below(len + 1);
			break;
		case 6:		/* delete a range */
			if (len) {
				pos = rng_below(len);
				n = 1 + rng_below(len - pos);
				memmove(buf + pos, buf + pos + n,
				    len - pos - n);
				len -= n;
			}
			break;
		case 7:		/* insert random bytes */
			if (len < cap) {
				pos = rng_below(len + 1);
				n = 1 + rng_below(cap - len < 64 ?
				    cap - len : 64);
				memmove(buf + pos + n, buf + pos, len - pos);
				for (i = 0; i < n; i++)
					buf[pos + i] = rng();
				len += n;
			}
			break;
		case 8:		/* duplicate a range */
			if (len && len < cap) {
				pos = rng_below(len);
				n = 1 + rng_below(len - pos);
				if (n > cap - len)
					n = cap - len;
				memmove(buf + pos + n, buf + pos, len - pos);
				len += n;
			}
			break;
		case 9:		/* splice in a piece of another input */
			if (ninputs) {
				struct input *o = &inputs[rng_below(ninputs)];

				if (o->len == 0)
					break;
				k = rng_below(o->len);
				n = 1 + rng_below(o->len - k);
				pos = rng_below(len + 1);
				if (n > cap - pos)
					n = cap - pos;
				memcpy(buf + pos, o->data + k, n);
				if (pos + n > len)
					len = pos + n;
			}
			break;
		case 10:	/* append an ASCII token */
			{
				static const char *tok[] = { "\r\n",
				    "\r\n\r\n", ":", " ", "0", "ffffffff",
				    "\n", "\0", "chunked", "-1" };
				const char *t = tok[rng_below(
				    sizeof(tok) / sizeof(tok[0]))];
				n = strlen(t);
				if (n == 0)
					n = 1;
				if (len + n <= cap) {
					memcpy(buf + len, t, n);
					len += n;
				}
			}
			break;
		}
	}
	return (len);
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-v] [-n mutations] [-s seed] [-m maxlen] "
	    "path ...\n", getprogname());
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*errstr;
	uint8_t		*buf, *copy;
	long long	 mutations = 10000, i;
	size_t		 len, j;
	int		 ch;

	rng_state = 0x5c5c5c5c12345678ULL;
	while ((ch = getopt(argc, argv, "m:n:s:v")) != -1) {
		switch (ch) {
		case 'm':
			maxlen = strtonum(optarg, 1, 16 * 1024 * 1024, &errstr);
			if (errstr)
				errx(2, "maxlen %s: %s", optarg, errstr);
			break;
		case 'n':
			mutations = strtonum(optarg, 0, LLONG_MAX, &errstr);
			if (errstr)
				errx(2, "mutations %s: %s", optarg, errstr);
			break;
		case 's':
			rng_state = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr)
				errx(2, "seed %s: %s", optarg, errstr);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (ch = 0; ch < argc; ch++)
		load_path(argv[ch]);

	/* every corpus entry as it is, each in a buffer of its exact size */
	for (j = 0; j < ninputs; j++) {
		if (verbose)
			fprintf(stderr, "input %s (%zu bytes)\n",
			    inputs[j].name, inputs[j].len);
		if ((copy = malloc(inputs[j].len ? inputs[j].len : 1)) == NULL)
			err(1, "malloc");
		memcpy(copy, inputs[j].data, inputs[j].len);
		LLVMFuzzerTestOneInput(copy, inputs[j].len);
		free(copy);
	}

	if ((buf = malloc(maxlen)) == NULL)
		err(1, "malloc");
	for (i = 0; i < mutations; i++) {
		if (ninputs) {
			struct input *in = &inputs[rng_below(ninputs)];

			len = in->len < maxlen ? in->len : maxlen;
			memcpy(buf, in->data, len);
		} else
			len = 0;
		len = mutate(buf, len, maxlen);
		/* an exact-size copy lets ASan see reads past the end */
		if ((copy = malloc(len ? len : 1)) == NULL)
			err(1, "malloc");
		memcpy(copy, buf, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
	}
	free(buf);
	printf("%zu corpus inputs and %lld mutations ran without a crash\n",
	    ninputs, mutations);
	return (0);
}

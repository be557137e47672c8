/*
 * Fuzz target for the config file of sc (controller/conffile.c and the
 * key handling of controller/config.c): the first byte picks the command
 * line ('4': version 4, anything else: sc run), the rest is the YAML.
 * Whatever the bytes, an answer and no crash; a refusal has a message.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct conffile			 cf;
	struct conffile_entry		*e;
	struct sc_config		 conf;
	char				 err[1024];
	size_t				 i;

	if (len == 0)
		return (0);
	conffile_init(&cf);
	err[0] = '\0';
	if (conffile_parse(&cf, "fuzz.yaml", (const char *)data + 1, len - 1,
	    err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		conffile_free(&cf);
		return (0);
	}
	TAILQ_FOREACH(e, &cf.entries, entry) {
		if (e->key == NULL || *e->key == '\0' || e->line < 1)
			abort();
		if ((e->type == CONFFILE_NULL && e->nvals != 0) ||
		    (e->type == CONFFILE_SCALAR && e->nvals != 1) ||
		    e->nvals > CONFFILE_MAX_VALUES)
			abort();
		for (i = 0; i < e->nvals; i++)
			if (strlen(e->vals[i]) > len)
				abort();
	}

	config_init(&conf);
	conf.legacy = data[0] == '4';
	err[0] = '\0';
	if (config_file_apply(&conf, &cf, "fuzz.yaml", err, sizeof(err)) !=
	    CONFIG_OK && err[0] == '\0')
		abort();
	config_free(&conf);
	free(config_cainfo);
	config_cainfo = NULL;
	conffile_free(&cf);
	return (0);
}

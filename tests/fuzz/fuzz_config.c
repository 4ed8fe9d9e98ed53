/*
 * fuzz_config.c -- libFuzzer target for the config file grammar: the input is
 * a config file, fed line by line to a fresh config.
 */
#include "wsb_autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define fuzz_assert(x)	do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config		*cfg;
	const struct route	*r;
	const char		*p = (const char *)data, *end = p + size, *nl;
	char			*line, *cause;
	unsigned		 ms;
	uint64_t		 v;
	int			 lineno = 0, rc;

	cfg = config_new();
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		line = xstrndup(p, (size_t)(nl - p));
		lineno++;
		cause = NULL;
		rc = config_parse_line(cfg, line, "fuzz", lineno, &cause);
		fuzz_assert((rc == 0) == (cause == NULL));
		free(cause);
		(void)parse_duration(line, &ms);
		(void)parse_size(line, &v);
		free(line);
		p = nl + 1;
	}

	cause = NULL;
	if (config_finish(cfg, &cause) == 0) {
		fuzz_assert(cfg->nlistens > 0 && cfg->nroutes > 0);
		r = config_find_route(cfg, cfg->routes[0].path);
		fuzz_assert(r != NULL && strcmp(r->path,
		    cfg->routes[0].path) == 0);
		(void)config_find_route(cfg, "/");
	} else
		fuzz_assert(cause != NULL);
	free(cause);
	config_ref(cfg);
	config_free(cfg);
	config_free(cfg);
	return (0);
}

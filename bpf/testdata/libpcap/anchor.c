/*
 * anchor: libpcap's C interpreter (bpf_filter) timed over a capture file,
 * the same-run anchor BenchmarkCorpus compares the compiled path against.
 *
 * usage: anchor FILE.pcap MIN_MS < programs
 *
 * Every line of standard input is one program in the comma form
 * "N,code jt jf k,code jt jf k,..." (the corpus programs, so both sides run
 * exactly the same instructions). For each program it holds every frame in
 * memory, runs bpf_filter over all of them for at least MIN_MS milliseconds
 * of whole passes, and prints "ns/frame matches" on one line. The match count
 * lets the caller check the anchor ran the program it was given.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct frame {
	const u_char *data;
	u_int caplen, wirelen;
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int parse_program(char *line, struct bpf_insn **out)
{
	char *save = NULL, *tok = strtok_r(line, ",", &save);
	if (tok == NULL)
		return -1;
	int n = atoi(tok);
	if (n <= 0)
		return -1;
	struct bpf_insn *p = calloc((size_t)n, sizeof(*p));
	for (int i = 0; i < n; i++) {
		unsigned code, jt, jf;
		unsigned long k;
		tok = strtok_r(NULL, ",", &save);
		if (tok == NULL || sscanf(tok, "%u %u %u %lu", &code, &jt, &jf, &k) != 4) {
			free(p);
			return -1;
		}
		p[i].code = (u_short)code;
		p[i].jt = (u_char)jt;
		p[i].jf = (u_char)jf;
		p[i].k = (bpf_u_int32)k;
	}
	*out = p;
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: anchor FILE.pcap MIN_MS < programs\n");
		return 2;
	}
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(argv[1], errbuf);
	if (pc == NULL) {
		fprintf(stderr, "anchor: %s\n", errbuf);
		return 2;
	}
	double min_ns = atof(argv[2]) * 1e6;

	size_t nf = 0, cap = 1024;
	struct frame *frames = malloc(cap * sizeof(*frames));
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		if (nf == cap) {
			cap *= 2;
			frames = realloc(frames, cap * sizeof(*frames));
		}
		u_char *copy = malloc(h->caplen ? h->caplen : 1);
		memcpy(copy, data, h->caplen);
		frames[nf].data = copy;
		frames[nf].caplen = h->caplen;
		frames[nf].wirelen = h->len;
		nf++;
	}
	if (rc != PCAP_ERROR_BREAK) {
		fprintf(stderr, "anchor: %s\n", pcap_geterr(pc));
		return 2;
	}

	static char line[1 << 20];
	volatile u_int sink = 0;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = 0;
		struct bpf_insn *prog;
		if (parse_program(line, &prog) < 0) {
			fprintf(stderr, "anchor: bad program line\n");
			return 2;
		}
		u_long matches = 0;
		for (size_t i = 0; i < nf; i++)
			if (bpf_filter(prog, frames[i].data, frames[i].wirelen, frames[i].caplen) != 0)
				matches++;
		double start = now_ns(), elapsed;
		u_long passes = 0;
		do {
			u_int acc = 0;
			for (size_t i = 0; i < nf; i++)
				acc += bpf_filter(prog, frames[i].data, frames[i].wirelen, frames[i].caplen);
			sink += acc;
			passes++;
			elapsed = now_ns() - start;
		} while (elapsed < min_ns);
		printf("%.3f %lu\n", elapsed / ((double)passes * (double)nf), matches);
		fflush(stdout);
		free(prog);
	}
	return 0;
}

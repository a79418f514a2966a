// dropall: rename every file of STAGING into INCOMING in a tight loop (both
// in the same file system), as a burst of submissions. Prints the elapsed
// nanoseconds of the loop.
//
//   dropall STAGING INCOMING
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: dropall STAGING INCOMING\n"); return 2; }
    DIR *d = opendir(argv[1]);
    if (!d) { perror("dropall: opendir"); return 1; }
    int from = dirfd(d), to = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (to < 0) { perror("dropall: open"); return 1; }
    // Read the names first, so that only renames are in the timed loop.
    size_t n = 0, cap = 1024;
    char **names = malloc(cap * sizeof *names);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < n; i++)
        if (renameat(from, names[i], to, names[i]) != 0) { perror("dropall: rename"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%zu %lld\n", n, (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}

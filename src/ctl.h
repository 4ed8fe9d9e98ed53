/* ctl.h -- `wsbridge ctl`, the control socket's batch client. */
#ifndef CTL_H
#define CTL_H

/* Runs `wsbridge ctl ARGS` (argv[0] is "ctl"); returns the exit status. */
int	ctl_main(int argc, char **argv);

#endif

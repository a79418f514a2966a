#ifndef GATHER_CSYSTEMD_SHIM_H
#define GATHER_CSYSTEMD_SHIM_H

// sd_journal_sendv is a macro that adds CODE_FILE/CODE_LINE/CODE_FUNC fields
// unless this is defined; those would name our C shim, not the caller, so
// gatherd suppresses them and calls the plain function.
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-id128.h>

#endif

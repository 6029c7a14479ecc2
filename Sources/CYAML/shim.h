// libyaml (Debian libyaml-dev), the parser Yams wraps, used directly: Yams imports all of Foundation.
#ifndef MESHCA_CYAML_SHIM_H
#define MESHCA_CYAML_SHIM_H
#include <yaml.h>
#endif

// Debian's libfdt-dev: the flattened device tree library from dtc.
#include <libfdt.h>

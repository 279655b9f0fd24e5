// The hart state is plain data; its C helpers (floating point with the host's rounding modes)
// live beside this file. This translation unit keeps the target non-empty for SwiftPM.
#include "HartState.h"

_Static_assert(sizeof(BPTLBEntry) == 16, "TLB entries are 16 bytes so the JIT can index them with a shift");

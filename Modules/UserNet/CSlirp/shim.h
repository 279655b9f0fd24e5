/* libslirp (Debian's libslirp-dev): user-mode TCP/IP for virtio-net's `user` backend. Its
 * pkg-config file requires glib's, which Backplane does not otherwise need, so the module map
 * links the library by name instead. */
#include <slirp/libslirp.h>
#include <poll.h>

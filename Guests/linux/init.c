/*
 * The Linux guest's /init: reports what the kernel found, in lines a test can parse, then powers off.
 * Built static for riscv64 by scripts/build-linux.sh and packed alone into the initramfs.
 *
 * Every report line starts with "BP: " and is written whole (line-buffered stdout), so it can be
 * picked out of the kernel's own console output:
 *   BP: init start
 *   BP: kernel <release> <machine>
 *   BP: cpus online=<sysfs cpu list> count=<n>
 *   BP: pci <domain:bus:dev.fn> vendor=<hex4> device=<hex4> class=<hex6> driver=<name|none> irq=<n> msi=<none|msi:<n>|msix:<n>>
 *   BP: pci count=<n>
 *   BP: blk <name> size=<bytes>                       every /sys/block entry but ram/loop
 *   BP: blk <name> rw ok offset=<bytes> len=<bytes>   the write/read-back check of the first virtio disk
 *   BP: blk <name> rw FAIL <reason>
 *   BP: blk none                                      no virtio disk to check
 *   BP: blk <sdX> rw ok offset=<bytes> len=<bytes>    the same check on the first SCSI disk (USB storage)
 *   BP: blk <nvmeXnY> rw ok offset=<bytes> len=<bytes> the same check on the first NVMe namespace
 *   BP: usb <dev> id=<vid4>:<pid4> speed=<Mb/s> driver=<name|none> interfaces=<class:driver,...> product=<string>
 *   BP: usb count=<n>                                 USB devices other than root hubs
 *   BP: usb loopback <dev> ok bytes=<n>               data sent to a loopback device (1209:0004 built-in, 1209:0005
 *                                                     the acme_usbloop plugin) through usbfs came back
 *   BP: usb loopback <dev> FAIL <reason>
 *   BP: usb wait FAIL <what>                          the devices bp.usb=<n> asked for did not all appear
 *   BP: bench <dev> bytes=<n> ns=<n>                  bp.readbench=<dev>: sequential O_DIRECT read of the device
 *   BP: usbwatch count=<n> [id=<vid4>:<pid4>...]      bp.usbwatch=<s>: the USB devices, each time the set changes, for
 *                                                     s seconds or until the count returns to its first value
 *                                                     after a change (a hot-plug and unplug seen whole)
 *   BP: rtc <name> driver=<name>
 *   BP: irq <line of /proc/interrupts>
 *   BP: error <what>: <strerror>
 *   BP: done
 * The written block is TEST_LEN bytes at TEST_OFFSET, byte i = pattern_byte(i), so the host can check
 * the disk image after the guest has powered off.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/reboot.h>
#include <linux/usbdevice_fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#define TEST_OFFSET 65536
#define TEST_LEN 4096

static void error(const char *what) { printf("BP: error %s: %s\n", what, strerror(errno)); }

/* Reads a small sysfs/proc file into buf without its trailing newline; returns 0 or -1. */
static int read_text(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
    return 0;
}

/* sysfs prints IDs as "0x1af4": drop the prefix so the line reads like lspci. */
static const char *hex_digits(const char *s) { return strncmp(s, "0x", 2) == 0 ? s + 2 : s; }

static int not_hidden(const struct dirent *entry) { return entry->d_name[0] != '.'; }

static void report_cpus(void) {
    char online[64];
    if (read_text("/sys/devices/system/cpu/online", online, sizeof online) != 0) {
        error("read /sys/devices/system/cpu/online");
        return;
    }
    printf("BP: cpus online=%s count=%ld\n", online, sysconf(_SC_NPROCESSORS_ONLN));
}

/* Counts msi_irqs/<n> entries; each holds "msi" or "msix" (Documentation/ABI/testing/sysfs-bus-pci). */
static void msi_summary(const char *device, char *out, size_t size) {
    char path[PATH_MAX], mode[16] = "none";
    snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/msi_irqs", device);
    struct dirent **entries;
    int n = scandir(path, &entries, not_hidden, alphasort);
    if (n <= 0) {
        snprintf(out, size, "none");
        if (n == 0) free(entries);
        return;
    }
    snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/msi_irqs/%s", device, entries[0]->d_name);
    if (read_text(path, mode, sizeof mode) != 0) snprintf(mode, sizeof mode, "unknown");
    snprintf(out, size, "%s:%d", mode, n);
    for (int i = 0; i < n; i++) free(entries[i]);
    free(entries);
}

static void report_pci(void) {
    struct dirent **entries;
    int n = scandir("/sys/bus/pci/devices", &entries, not_hidden, alphasort);
    if (n < 0) {
        if (errno == ENOENT) {
            printf("BP: pci count=0\n");
        } else {
            error("scandir /sys/bus/pci/devices");
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        char path[PATH_MAX], vendor[16] = "?", device[16] = "?", class[16] = "?", irq[16] = "?";
        char driver[256] = "none", msi[32], link[256];
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/vendor", name);
        read_text(path, vendor, sizeof vendor);
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/device", name);
        read_text(path, device, sizeof device);
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/class", name);
        read_text(path, class, sizeof class);
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/irq", name);
        read_text(path, irq, sizeof irq);
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/driver", name);
        ssize_t len = readlink(path, link, sizeof link - 1);
        if (len > 0) {
            link[len] = 0;
            const char *slash = strrchr(link, '/');
            snprintf(driver, sizeof driver, "%s", slash ? slash + 1 : link);
        }
        msi_summary(name, msi, sizeof msi);
        printf("BP: pci %s vendor=%s device=%s class=%s driver=%s irq=%s msi=%s\n", name,
               hex_digits(vendor), hex_digits(device), hex_digits(class), driver, irq, msi);
        free(entries[i]);
    }
    free(entries);
    printf("BP: pci count=%d\n", n);
}

static uint8_t pattern_byte(unsigned i) { return (uint8_t)(i * 31u + (i >> 8) + 0x5au); }

/* Writes the pattern with O_DIRECT (bypassing the page cache, so the request reaches the device),
 * fsyncs, reads it back with O_DIRECT into another buffer and compares. */
static void check_block_rw(const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/dev/%s", name);
    int fd = open(path, O_RDWR | O_DIRECT | O_SYNC | O_CLOEXEC);
    if (fd < 0) {
        printf("BP: blk %s rw FAIL open: %s\n", name, strerror(errno));
        return;
    }
    uint8_t *out, *in;
    if (posix_memalign((void **)&out, 4096, TEST_LEN) != 0 || posix_memalign((void **)&in, 4096, TEST_LEN) != 0) {
        printf("BP: blk %s rw FAIL out of memory\n", name);
        close(fd);
        return;
    }
    for (unsigned i = 0; i < TEST_LEN; i++) out[i] = pattern_byte(i);
    memset(in, 0, TEST_LEN);
    ssize_t n = pwrite(fd, out, TEST_LEN, TEST_OFFSET);
    if (n != TEST_LEN) {
        printf("BP: blk %s rw FAIL write returned %zd: %s\n", name, n, n < 0 ? strerror(errno) : "short");
    } else if (fsync(fd) != 0) {
        printf("BP: blk %s rw FAIL fsync: %s\n", name, strerror(errno));
    } else if (ioctl(fd, BLKFLSBUF, 0) != 0) {
        printf("BP: blk %s rw FAIL BLKFLSBUF: %s\n", name, strerror(errno));
    } else if ((n = pread(fd, in, TEST_LEN, TEST_OFFSET)) != TEST_LEN) {
        printf("BP: blk %s rw FAIL read returned %zd: %s\n", name, n, n < 0 ? strerror(errno) : "short");
    } else if (memcmp(in, out, TEST_LEN) != 0) {
        unsigned i = 0;
        while (in[i] == out[i]) i++;
        printf("BP: blk %s rw FAIL mismatch at byte %u: wrote 0x%02x, read 0x%02x\n", name, i, out[i], in[i]);
    } else {
        printf("BP: blk %s rw ok offset=%d len=%d\n", name, TEST_OFFSET, TEST_LEN);
    }
    free(out);
    free(in);
    close(fd);
}

static void report_block(void) {
    struct dirent **entries;
    int n = scandir("/sys/block", &entries, not_hidden, alphasort);
    if (n < 0) {
        error("scandir /sys/block");
        return;
    }
    const char *virtio_disk = NULL;
    const char *scsi_disk = NULL;
    const char *nvme_disk = NULL;
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (strncmp(name, "ram", 3) == 0 || strncmp(name, "loop", 4) == 0) continue;
        char path[PATH_MAX], sectors[32];
        snprintf(path, sizeof path, "/sys/block/%s/size", name);
        if (read_text(path, sectors, sizeof sectors) != 0) {
            error(path);
            continue;
        }
        /* sysfs counts 512-byte sectors whatever the logical block size (block/genhd.c). */
        printf("BP: blk %s size=%llu\n", name, strtoull(sectors, NULL, 10) * 512ull);
        if (!virtio_disk && strncmp(name, "vd", 2) == 0) virtio_disk = name;
        if (!scsi_disk && strncmp(name, "sd", 2) == 0) scsi_disk = name;
        if (!nvme_disk && strncmp(name, "nvme", 4) == 0) nvme_disk = name;
    }
    if (virtio_disk) {
        check_block_rw(virtio_disk);
    } else {
        printf("BP: blk none\n");
    }
    if (scsi_disk) check_block_rw(scsi_disk);
    if (nvme_disk) check_block_rw(nvme_disk);
    for (int i = 0; i < n; i++) free(entries[i]);
    free(entries);
}

/* The value of "key=" on the kernel command line, or NULL. */
static const char *cmdline_value(const char *key, char *buf, size_t size) {
    char line[1024];
    if (read_text("/proc/cmdline", line, sizeof line) != 0) return NULL;
    size_t len = strlen(key);
    for (char *word = strtok(line, " "); word; word = strtok(NULL, " ")) {
        if (strncmp(word, key, len) == 0 && word[len] == '=') {
            snprintf(buf, size, "%s", word + len + 1);
            return buf;
        }
    }
    return NULL;
}

/* A USB device entry of /sys/bus/usb/devices other than a root hub ("usb1") or an interface ("1-1:1.0"). */
static int usb_device_entry(const struct dirent *entry) {
    return entry->d_name[0] != '.' && strncmp(entry->d_name, "usb", 3) != 0 && !strchr(entry->d_name, ':');
}

static int count_usb_devices(void) {
    struct dirent **entries;
    int n = scandir("/sys/bus/usb/devices", &entries, usb_device_entry, alphasort);
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) free(entries[i]);
    free(entries);
    return n;
}

static int has_scsi_disk(void) {
    DIR *dir = opendir("/sys/block");
    if (!dir) return 0;
    struct dirent *entry;
    int found = 0;
    while ((entry = readdir(dir))) found |= strncmp(entry->d_name, "sd", 2) == 0;
    closedir(dir);
    return found;
}

/* USB enumeration runs in the kernel's hub thread after init has started: with bp.usb=<n> on the
 * command line, wait (up to 60 s) until n devices are there and, with bp.usbdisk=1, a SCSI disk. */
static void wait_usb(void) {
    char value[32];
    int wanted = cmdline_value("bp.usb", value, sizeof value) ? atoi(value) : 0;
    int disk = cmdline_value("bp.usbdisk", value, sizeof value) ? atoi(value) : 0;
    if (wanted <= 0 && !disk) return;
    for (int tick = 0; tick < 600; tick++) {
        if (count_usb_devices() >= wanted && (!disk || has_scsi_disk())) return;
        usleep(100000);
    }
    printf("BP: usb wait FAIL devices=%d wanted=%d disk=%d\n", count_usb_devices(), wanted, has_scsi_disk());
}

/* bp.usbwatch=<seconds>: report the USB devices (count and ids) every time they change, so a test
 * can plug one in through the control socket and see the kernel enumerate it, then unplug it and
 * see it go. Ends after <seconds>, or once the count is back to where it started after a change. */
static void watch_usb(void) {
    char value[32];
    int seconds = cmdline_value("bp.usbwatch", value, sizeof value) ? atoi(value) : 0;
    if (seconds <= 0) return;
    char last[1100] = "";
    int first = -1, changed = 0;
    for (int tick = 0; tick < seconds * 20; tick++) {
        char now[1024];
        int count = 0;
        size_t used = 0;
        now[0] = 0;
        DIR *dir = opendir("/sys/bus/usb/devices");
        struct dirent *entry;
        while (dir && (entry = readdir(dir))) {
            /* Devices are "B-P[.P...]"; interfaces have a ':' and root hubs are "usbN". */
            if (!isdigit((unsigned char)entry->d_name[0]) || strchr(entry->d_name, ':')) continue;
            char path[PATH_MAX], vid[8] = "", pid[8] = "";
            snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/idVendor", entry->d_name);
            read_text(path, vid, sizeof vid);
            snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/idProduct", entry->d_name);
            read_text(path, pid, sizeof pid);
            count++;
            used += (size_t)snprintf(now + used, used < sizeof now ? sizeof now - used : 0, " id=%s:%s", vid, pid);
            if (used >= sizeof now) used = sizeof now - 1;
        }
        if (dir) closedir(dir);
        char line[1100];
        snprintf(line, sizeof line, "count=%d%s", count, now);
        if (strcmp(line, last) != 0) {
            printf("BP: usbwatch %s\n", line);
            snprintf(last, sizeof last, "%s", line);
            if (first < 0) first = count; else changed = 1;
            if (changed && count == first) return;
        }
        usleep(50000);
    }
}

/* The name of the driver a sysfs device is bound to, or "none". */
static void driver_of(const char *device_path, char *out, size_t size) {
    char path[PATH_MAX], link[256];
    snprintf(path, sizeof path, "%s/driver", device_path);
    ssize_t len = readlink(path, link, sizeof link - 1);
    if (len <= 0) {
        snprintf(out, size, "none");
        return;
    }
    link[len] = 0;
    const char *slash = strrchr(link, '/');
    snprintf(out, size, "%s", slash ? slash + 1 : link);
}

/* A loopback device (Modules/USB/USBLoopback.swift, or the acme_usbloop plugin with the same
 * protocol, Plugins/examples/acme_usbloop) through usbfs: LOOPBACK_LEN pattern bytes to
 * bulk OUT 0x01, the same count back from bulk IN 0x81, then vendor request 0x01 says 0 are left. */
#define LOOPBACK_LEN 4096
static void check_loopback(const char *name, const char *base) {
    char path[PATH_MAX], bus[16], dev[16];
    snprintf(path, sizeof path, "%s/busnum", base);
    if (read_text(path, bus, sizeof bus) != 0) return;
    snprintf(path, sizeof path, "%s/devnum", base);
    if (read_text(path, dev, sizeof dev) != 0) return;
    snprintf(path, sizeof path, "/dev/bus/usb/%03d/%03d", atoi(bus), atoi(dev));
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("BP: usb loopback %s FAIL open %s: %s\n", name, path, strerror(errno));
        return;
    }
    unsigned interface = 0;
    static uint8_t out[LOOPBACK_LEN], in[LOOPBACK_LEN];
    for (unsigned i = 0; i < LOOPBACK_LEN; i++) out[i] = pattern_byte(i);
    struct usbdevfs_bulktransfer send = { .ep = 0x01, .len = LOOPBACK_LEN, .timeout = 2000, .data = out };
    struct usbdevfs_bulktransfer receive = { .ep = 0x81, .len = LOOPBACK_LEN, .timeout = 2000, .data = in };
    uint8_t left[4] = { 0xff, 0xff, 0xff, 0xff };
    struct usbdevfs_ctrltransfer count = { .bRequestType = 0xc0, .bRequest = 0x01, .wLength = 4, .timeout = 2000, .data = left };
    int n;
    if (ioctl(fd, USBDEVFS_CLAIMINTERFACE, &interface) != 0) {
        printf("BP: usb loopback %s FAIL claim: %s\n", name, strerror(errno));
    } else if ((n = ioctl(fd, USBDEVFS_BULK, &send)) != LOOPBACK_LEN) {
        printf("BP: usb loopback %s FAIL bulk out returned %d: %s\n", name, n, n < 0 ? strerror(errno) : "short");
    } else if ((n = ioctl(fd, USBDEVFS_BULK, &receive)) != LOOPBACK_LEN) {
        printf("BP: usb loopback %s FAIL bulk in returned %d: %s\n", name, n, n < 0 ? strerror(errno) : "short");
    } else if (memcmp(in, out, LOOPBACK_LEN) != 0) {
        printf("BP: usb loopback %s FAIL data differs\n", name);
    } else if ((n = ioctl(fd, USBDEVFS_CONTROL, &count)) != 4 || left[0] | left[1] | left[2] | left[3]) {
        printf("BP: usb loopback %s FAIL count request returned %d, left %u\n", name, n, left[0] | left[1] << 8);
    } else {
        printf("BP: usb loopback %s ok bytes=%d\n", name, LOOPBACK_LEN);
    }
    close(fd);
}

static void report_usb(void) {
    struct dirent **entries;
    int n = scandir("/sys/bus/usb/devices", &entries, usb_device_entry, alphasort);
    if (n < 0) {
        if (errno != ENOENT) error("scandir /sys/bus/usb/devices");
        printf("BP: usb count=0\n");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        char base[512], path[PATH_MAX], vendor[16] = "?", product_id[16] = "?", speed[16] = "?", product[128] = "";
        char driver[256], interfaces[512] = "";
        snprintf(base, sizeof base, "/sys/bus/usb/devices/%s", name);
        snprintf(path, sizeof path, "%s/idVendor", base);
        read_text(path, vendor, sizeof vendor);
        snprintf(path, sizeof path, "%s/idProduct", base);
        read_text(path, product_id, sizeof product_id);
        snprintf(path, sizeof path, "%s/speed", base);
        read_text(path, speed, sizeof speed);
        snprintf(path, sizeof path, "%s/product", base);
        read_text(path, product, sizeof product);
        driver_of(base, driver, sizeof driver);
        /* Interfaces are subdirectories "<name>:<config>.<interface>". */
        DIR *dir = opendir(base);
        struct dirent *entry;
        while (dir && (entry = readdir(dir))) {
            if (strncmp(entry->d_name, name, strlen(name)) != 0 || entry->d_name[strlen(name)] != ':') continue;
            char interface[1024], class[16] = "?", bound[256];
            snprintf(interface, sizeof interface, "%s/%s", base, entry->d_name);
            snprintf(path, sizeof path, "%s/bInterfaceClass", interface);
            read_text(path, class, sizeof class);
            driver_of(interface, bound, sizeof bound);
            size_t used = strlen(interfaces);
            snprintf(interfaces + used, sizeof interfaces - used, "%s%s:%s", used ? "," : "", class, bound);
        }
        if (dir) closedir(dir);
        printf("BP: usb %s id=%s:%s speed=%s driver=%s interfaces=%s product=%s\n", name, vendor, product_id, speed, driver,
               interfaces[0] ? interfaces : "none", product);
        if (strcmp(vendor, "1209") == 0 && (strcmp(product_id, "0004") == 0 || strcmp(product_id, "0005") == 0))
            check_loopback(name, base);
        free(entries[i]);
    }
    free(entries);
    printf("BP: usb count=%d\n", n);
}

/* bp.readbench=<dev>: reads the whole device sequentially with O_DIRECT in 1 MiB requests. */
static void read_benchmark(void) {
    char name[64], path[PATH_MAX];
    if (!cmdline_value("bp.readbench", name, sizeof name)) return;
    snprintf(path, sizeof path, "/dev/%s", name);
    int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        printf("BP: bench %s FAIL open: %s\n", name, strerror(errno));
        return;
    }
    size_t chunk = 1 << 20;
    void *buffer;
    if (posix_memalign(&buffer, 4096, chunk) != 0) {
        close(fd);
        return;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long long total = 0;
    ssize_t n;
    while ((n = read(fd, buffer, chunk)) > 0) total += n;
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long ns = (end.tv_sec - start.tv_sec) * 1000000000ll + (end.tv_nsec - start.tv_nsec);
    printf("BP: bench %s bytes=%lld ns=%lld\n", name, total, ns);
    free(buffer);
    close(fd);
}

static void report_rtc(void) {
    struct dirent **entries;
    int n = scandir("/sys/class/rtc", &entries, not_hidden, alphasort);
    if (n < 0) return;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX], link[256], driver[256] = "none";
        snprintf(path, sizeof path, "/sys/class/rtc/%s/device/driver", entries[i]->d_name);
        ssize_t len = readlink(path, link, sizeof link - 1);
        if (len > 0) {
            link[len] = 0;
            const char *slash = strrchr(link, '/');
            snprintf(driver, sizeof driver, "%s", slash ? slash + 1 : link);
        }
        printf("BP: rtc %s driver=%s\n", entries[i]->d_name, driver);
        free(entries[i]);
    }
    free(entries);
}

static void report_interrupts(void) {
    FILE *f = fopen("/proc/interrupts", "re");
    if (!f) {
        error("open /proc/interrupts");
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' ')) line[--len] = 0;
        printf("BP: irq %s\n", line);
    }
    fclose(f);
}

/* Mounts a pseudo filesystem; returns 0 or the errno, reported once the output is chosen. */
static int mount_fs(const char *source, const char *target, const char *type) {
    mkdir(target, 0755);
    return mount(source, target, type, 0, NULL) == 0 ? 0 : errno;
}

static void report_mount(const char *target, int err) {
    if (err == 0) return;
    errno = err;
    char what[64];
    snprintf(what, sizeof what, "mount %s", target);
    error(what);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int proc_err = mount_fs("proc", "/proc", "proc");
    int sys_err = mount_fs("sysfs", "/sys", "sysfs");
    int dev_err = mount_fs("devtmpfs", "/dev", "devtmpfs");
    printf("BP: init start\n");
    report_mount("/proc", proc_err);
    report_mount("/sys", sys_err);
    report_mount("/dev", dev_err);

    struct utsname uts;
    if (uname(&uts) == 0) printf("BP: kernel %s %s\n", uts.release, uts.machine);
    report_cpus();
    report_pci();
    wait_usb();
    watch_usb();
    report_usb();
    report_block();
    read_benchmark();
    report_rtc();
    report_interrupts();
    printf("BP: done\n");
    fflush(stdout);
    /* reboot() does not wait for the console: let the UART send the report first (it may be
     * slow, e.g. polled when the UART has no interrupt). */
    tcdrain(STDOUT_FILENO);

    sync();
    reboot(RB_POWER_OFF);
    /* Only reached if power-off failed; init must not exit (the kernel would panic). */
    error("reboot(RB_POWER_OFF)");
    for (;;) pause();
}

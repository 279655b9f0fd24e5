/* A Linux program (static, riscv64) for USBIsochGuestTests: drives the isoch_plugin.c device
 * (1209:0013) through usbfs and Linux's xhci-hcd, which queues one Isoch TRB per packet with
 * Start Isoch ASAP (xhci-ring.c, xhci_queue_isoc_tx). It selects alternate setting 1 of
 * interface 0, sends one isochronous OUT URB of 4 packets to 0x02, then one IN URB of 8 packets
 * from 0x81, and prints one line per packet: its status, its length and the four words the
 * plugin answered (the microframe the packet was scheduled in, MFINDEX as the plugin read it,
 * the OUT packets it has seen and the first byte of the last one). Exit status 0 when every
 * ioctl worked. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int read_text(const char *dir, const char *name, char *out, size_t size) {
    char path[512];
    snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/%s", dir, name);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    if (!fgets(out, (int)size, file)) { fclose(file); return -1; }
    fclose(file);
    out[strcspn(out, "\n")] = 0;
    return 0;
}

/* Submits an isochronous URB of `count` packets of `size` bytes and waits for it. */
static struct usbdevfs_urb *iso(int fd, unsigned char endpoint, int count, int size, unsigned char *buffer) {
    struct usbdevfs_urb *urb = calloc(1, sizeof *urb + (size_t)count * sizeof(struct usbdevfs_iso_packet_desc));
    urb->type = USBDEVFS_URB_TYPE_ISO;
    urb->endpoint = endpoint;
    urb->flags = USBDEVFS_URB_ISO_ASAP;
    urb->buffer = buffer;
    urb->buffer_length = count * size;
    urb->number_of_packets = count;
    for (int i = 0; i < count; i++) urb->iso_frame_desc[i].length = (unsigned)size;
    if (ioctl(fd, USBDEVFS_SUBMITURB, urb) < 0) { perror("isoch: SUBMITURB"); return NULL; }
    void *done = NULL;
    if (ioctl(fd, USBDEVFS_REAPURB, &done) < 0 || done != urb) { perror("isoch: REAPURB"); return NULL; }
    return urb;
}

int main(void) {
    DIR *dir = opendir("/sys/bus/usb/devices");
    if (!dir) { perror("isoch: /sys/bus/usb/devices"); return 1; }
    struct dirent *entry;
    char bus[16] = "", dev[16] = "", text[64];
    while ((entry = readdir(dir))) {
        if (read_text(entry->d_name, "idVendor", text, sizeof text) == 0 && strcmp(text, "1209") == 0 &&
            read_text(entry->d_name, "idProduct", text, sizeof text) == 0 && strcmp(text, "0013") == 0) {
            read_text(entry->d_name, "busnum", bus, sizeof bus);
            read_text(entry->d_name, "devnum", dev, sizeof dev);
            break;
        }
    }
    closedir(dir);
    if (!bus[0]) { fprintf(stderr, "isoch: no 1209:0013 device\n"); return 1; }
    char path[64];
    snprintf(path, sizeof path, "/dev/bus/usb/%03d/%03d", atoi(bus), atoi(dev));
    int fd = open(path, O_RDWR);
    if (fd < 0) { perror(path); return 1; }
    unsigned int interface = 0;
    if (ioctl(fd, USBDEVFS_CLAIMINTERFACE, &interface) < 0) { perror("isoch: CLAIMINTERFACE"); return 1; }
    struct usbdevfs_setinterface setting = {0, 1};
    if (ioctl(fd, USBDEVFS_SETINTERFACE, &setting) < 0) { perror("isoch: SETINTERFACE"); return 1; }

    unsigned char out[16];
    for (int i = 0; i < 4; i++) memset(out + 4 * i, 0x10 + i, 4);
    struct usbdevfs_urb *urb = iso(fd, 0x02, 4, 4, out);
    if (!urb) return 1;
    for (int i = 0; i < 4; i++)
        printf("isoch out %d status=%d length=%u\n", i, urb->iso_frame_desc[i].status, urb->iso_frame_desc[i].actual_length);

    uint32_t in[8][4];
    memset(in, 0xff, sizeof in);
    urb = iso(fd, 0x81, 8, 16, (unsigned char *)in);
    if (!urb) return 1;
    printf("isoch in start_frame=%d\n", urb->start_frame);
    for (int i = 0; i < 8; i++)
        printf("isoch in %d status=%d length=%u frame=%u seen=%u outs=%u last=0x%x\n", i, urb->iso_frame_desc[i].status,
               urb->iso_frame_desc[i].actual_length, in[i][0], in[i][1], in[i][2], in[i][3]);
    close(fd);
    printf("isoch done\n");
    return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * acme_edu: Linux driver for Backplane's acme.edu plugin device (Plugins/examples/acme_edu,
 * a model of QEMU's edu device, docs/specs/edu.rst), written as an example of a driver
 * developed beside its device plugin.
 *
 *   probe     enable the function, map BAR 0, check the ID register, take one MSI-X vector
 *             (falling back to shared INTx), 64-bit DMA mask, a coherent DMA buffer
 *   sysfs     factorial (write n, read n!), dma_selftest (read: a round trip through the
 *             device's buffer), irq_mode (msix|intx), interrupts (count)
 *   /dev/acme_eduN   read()/write() move data between user memory and the device's 4 KiB
 *             buffer by DMA (the file position is the offset in the device's buffer)
 *
 * Register layout (BAR 0), from the plugin's source:
 *   0x00 ID (0x010000ed)   0x04 liveness (reads back inverted)   0x08 factorial
 *   0x20 status: bit 0 computing, bit 7 raise an interrupt when done
 *   0x24 interrupt status, 0x60 raise, 0x64 acknowledge (bit 0 factorial, bit 8 DMA)
 *   0x80 DMA source, 0x88 destination, 0x90 count, 0x98 command:
 *        bit 0 start/busy, bit 1 device-to-RAM, bit 2 interrupt when done, bit 3 failed
 *   0x40000..0x41000 the device's DMA buffer
 */
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0xacde

#define REG_ID 0x00
#define REG_LIVENESS 0x04
#define REG_FACTORIAL 0x08
#define REG_STATUS 0x20
#define REG_IRQ_STATUS 0x24
#define REG_IRQ_ACK 0x64
#define REG_DMA_SRC 0x80
#define REG_DMA_DST 0x88
#define REG_DMA_COUNT 0x90
#define REG_DMA_CMD 0x98

#define STATUS_COMPUTING 0x01
#define STATUS_IRQ_FACTORIAL 0x80
#define IRQ_FACTORIAL 0x001
#define IRQ_DMA 0x100
#define DMA_START 0x1
#define DMA_TO_RAM 0x2
#define DMA_IRQ 0x4
#define DMA_FAILED 0x8

#define EDU_ID_MASK 0xff0000ff
#define EDU_ID 0x010000ed
#define EDU_BUFFER 0x40000
#define EDU_BUFFER_SIZE 4096
#define EDU_TIMEOUT (msecs_to_jiffies(5000))

struct acme_edu {
	struct pci_dev *pdev;
	void __iomem *regs;
	int irq;
	bool msix;
	struct mutex lock;		/* one operation on the device at a time */
	struct completion done;
	u32 last_irq_status;
	atomic_t interrupts;
	u32 factorial;
	void *buffer;			/* coherent DMA buffer, EDU_BUFFER_SIZE bytes */
	dma_addr_t buffer_dma;
	int index;
	char name[16];
	struct miscdevice misc;
};

static DEFINE_IDA(acme_edu_ida);

static irqreturn_t acme_edu_irq(int irq, void *data)
{
	struct acme_edu *edu = data;
	u32 status = readl(edu->regs + REG_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;	/* shared INTx: not ours */
	writel(status, edu->regs + REG_IRQ_ACK);
	edu->last_irq_status = status;
	atomic_inc(&edu->interrupts);
	complete(&edu->done);
	return IRQ_HANDLED;
}

/* Computes n! on the device, waiting for its completion interrupt. */
static int acme_edu_compute(struct acme_edu *edu, u32 n, u32 *result)
{
	int ret = 0;

	mutex_lock(&edu->lock);
	reinit_completion(&edu->done);
	writel(STATUS_IRQ_FACTORIAL, edu->regs + REG_STATUS);
	writel(n, edu->regs + REG_FACTORIAL);
	if (!wait_for_completion_timeout(&edu->done, EDU_TIMEOUT) ||
	    !(edu->last_irq_status & IRQ_FACTORIAL))
		ret = -ETIMEDOUT;
	else
		*result = readl(edu->regs + REG_FACTORIAL);
	mutex_unlock(&edu->lock);
	return ret;
}

/*
 * One DMA transfer of `count` bytes between the coherent buffer at `offset` and the device's
 * buffer at the same offset; the caller holds the lock.
 */
static int acme_edu_dma(struct acme_edu *edu, size_t offset, size_t count, bool to_ram)
{
	u64 ram = edu->buffer_dma + offset, device = EDU_BUFFER + offset;

	reinit_completion(&edu->done);
	writeq(to_ram ? device : ram, edu->regs + REG_DMA_SRC);
	writeq(to_ram ? ram : device, edu->regs + REG_DMA_DST);
	writeq(count, edu->regs + REG_DMA_COUNT);
	writeq(DMA_START | DMA_IRQ | (to_ram ? DMA_TO_RAM : 0), edu->regs + REG_DMA_CMD);
	if (!wait_for_completion_timeout(&edu->done, EDU_TIMEOUT) || !(edu->last_irq_status & IRQ_DMA))
		return -ETIMEDOUT;
	if (readq(edu->regs + REG_DMA_CMD) & DMA_FAILED)
		return -EIO;
	return 0;
}

/* --- sysfs --- */

static ssize_t factorial_store(struct device *dev, struct device_attribute *attr, const char *buf, size_t len)
{
	struct acme_edu *edu = dev_get_drvdata(dev);
	u32 n, result;
	int ret = kstrtou32(buf, 0, &n);

	if (ret)
		return ret;
	ret = acme_edu_compute(edu, n, &result);
	if (ret)
		return ret;
	edu->factorial = result;
	return len;
}

static ssize_t factorial_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct acme_edu *edu = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", edu->factorial);
}
static DEVICE_ATTR_RW(factorial);

/* RAM -> device -> RAM with a pattern, comparing what came back. */
static ssize_t dma_selftest_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct acme_edu *edu = dev_get_drvdata(dev);
	u8 *bytes = edu->buffer;
	size_t i, bad = 0;
	int ret;

	mutex_lock(&edu->lock);
	for (i = 0; i < EDU_BUFFER_SIZE; i++)
		bytes[i] = (u8)(i * 7 + 3);
	ret = acme_edu_dma(edu, 0, EDU_BUFFER_SIZE, false);
	if (!ret) {
		memset(bytes, 0, EDU_BUFFER_SIZE);
		ret = acme_edu_dma(edu, 0, EDU_BUFFER_SIZE, true);
	}
	for (i = 0; !ret && i < EDU_BUFFER_SIZE; i++)
		bad += bytes[i] != (u8)(i * 7 + 3);
	mutex_unlock(&edu->lock);
	if (ret)
		return sysfs_emit(buf, "error %d\n", ret);
	if (bad)
		return sysfs_emit(buf, "mismatch %zu\n", bad);
	return sysfs_emit(buf, "ok %d\n", EDU_BUFFER_SIZE);
}
static DEVICE_ATTR_RO(dma_selftest);

static ssize_t irq_mode_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct acme_edu *edu = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", edu->msix ? "msix" : "intx");
}
static DEVICE_ATTR_RO(irq_mode);

static ssize_t interrupts_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct acme_edu *edu = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", atomic_read(&edu->interrupts));
}
static DEVICE_ATTR_RO(interrupts);

static struct attribute *acme_edu_attrs[] = {
	&dev_attr_factorial.attr,
	&dev_attr_dma_selftest.attr,
	&dev_attr_irq_mode.attr,
	&dev_attr_interrupts.attr,
	NULL,
};
ATTRIBUTE_GROUPS(acme_edu);

/* --- /dev/acme_eduN: the device's buffer, moved by DMA --- */

static struct acme_edu *file_edu(struct file *file)
{
	return container_of(file->private_data, struct acme_edu, misc);
}

static ssize_t acme_edu_read(struct file *file, char __user *out, size_t count, loff_t *pos)
{
	struct acme_edu *edu = file_edu(file);
	int ret;

	if (*pos >= EDU_BUFFER_SIZE)
		return 0;
	count = min_t(size_t, count, EDU_BUFFER_SIZE - *pos);
	mutex_lock(&edu->lock);
	ret = acme_edu_dma(edu, *pos, count, true);
	if (!ret && copy_to_user(out, edu->buffer + *pos, count))
		ret = -EFAULT;
	mutex_unlock(&edu->lock);
	if (ret)
		return ret;
	*pos += count;
	return count;
}

static ssize_t acme_edu_write(struct file *file, const char __user *in, size_t count, loff_t *pos)
{
	struct acme_edu *edu = file_edu(file);
	int ret = 0;

	if (*pos >= EDU_BUFFER_SIZE)
		return count ? -ENOSPC : 0;
	count = min_t(size_t, count, EDU_BUFFER_SIZE - *pos);
	mutex_lock(&edu->lock);
	if (copy_from_user(edu->buffer + *pos, in, count))
		ret = -EFAULT;
	else
		ret = acme_edu_dma(edu, *pos, count, false);
	mutex_unlock(&edu->lock);
	if (ret)
		return ret;
	*pos += count;
	return count;
}

static const struct file_operations acme_edu_fops = {
	.owner = THIS_MODULE,
	.read = acme_edu_read,
	.write = acme_edu_write,
	.llseek = default_llseek,
};

/* --- PCI --- */

static int acme_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct acme_edu *edu;
	u32 ident;
	int ret;

	edu = devm_kzalloc(&pdev->dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->pdev = pdev;
	mutex_init(&edu->lock);
	init_completion(&edu->done);
	pci_set_drvdata(pdev, edu);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), "acme_edu");
	if (ret)
		return ret;
	edu->regs = pcim_iomap_table(pdev)[0];
	ident = readl(edu->regs + REG_ID);
	if ((ident & EDU_ID_MASK) != EDU_ID)
		return dev_err_probe(&pdev->dev, -ENODEV, "ID register reads %#x, not an edu device\n", ident);
	writel(0x12345678, edu->regs + REG_LIVENESS);
	if (readl(edu->regs + REG_LIVENESS) != ~0x12345678u)
		return dev_err_probe(&pdev->dev, -EIO, "liveness check failed\n");

	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	edu->buffer = dmam_alloc_coherent(&pdev->dev, EDU_BUFFER_SIZE, &edu->buffer_dma, GFP_KERNEL);
	if (!edu->buffer)
		return -ENOMEM;

	/* MSI-X when the platform has MSIs (an IMSIC), else the shared INTx line (a PLIC). */
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX | PCI_IRQ_INTX);
	if (ret < 0)
		return ret;
	edu->msix = pdev->msix_enabled;
	edu->irq = pci_irq_vector(pdev, 0);
	ret = request_irq(edu->irq, acme_edu_irq, edu->msix ? 0 : IRQF_SHARED, "acme_edu", edu);
	if (ret)
		goto free_vectors;

	edu->index = ida_alloc(&acme_edu_ida, GFP_KERNEL);
	if (edu->index < 0) {
		ret = edu->index;
		goto free_irq;
	}
	snprintf(edu->name, sizeof(edu->name), "acme_edu%d", edu->index);
	edu->misc.minor = MISC_DYNAMIC_MINOR;
	edu->misc.name = edu->name;
	edu->misc.fops = &acme_edu_fops;
	edu->misc.parent = &pdev->dev;
	ret = misc_register(&edu->misc);
	if (ret)
		goto free_index;
	dev_info(&pdev->dev, "acme_edu: /dev/%s, %s interrupt %d\n", edu->name, edu->msix ? "MSI-X" : "INTx", edu->irq);
	return 0;

free_index:
	ida_free(&acme_edu_ida, edu->index);
free_irq:
	free_irq(edu->irq, edu);
free_vectors:
	pci_free_irq_vectors(pdev);
	return ret;
}

static void acme_edu_remove(struct pci_dev *pdev)
{
	struct acme_edu *edu = pci_get_drvdata(pdev);

	misc_deregister(&edu->misc);
	ida_free(&acme_edu_ida, edu->index);
	free_irq(edu->irq, edu);
	pci_free_irq_vectors(pdev);
	dev_info(&pdev->dev, "acme_edu: removed after %d interrupts\n", atomic_read(&edu->interrupts));
}

static const struct pci_device_id acme_edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, acme_edu_ids);

static struct pci_driver acme_edu_driver = {
	.name = "acme_edu",
	.id_table = acme_edu_ids,
	.probe = acme_edu_probe,
	.remove = acme_edu_remove,
	.dev_groups = acme_edu_groups,
};
module_pci_driver(acme_edu_driver);

MODULE_DESCRIPTION("Driver for Backplane's acme.edu plugin device (an edu device)");
MODULE_LICENSE("GPL");

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iio-sim: simulated IIO devices for the gst-iio test bed.
 *
 * The interface below is pinned: tests depend on it.
 *
 * Devices (one platform device each, driver "iio-sim"; IIO name = label =
 * platform device name; `echo NAME > /sys/bus/platform/drivers/iio-sim/unbind`
 * simulates a hot-unplug, `.../bind` brings the device back):
 *   sim-adc    inputs voltage0..3, le:S16/16>>0, no timestamp; DMA-type
 *              buffer (industrialio-buffer-dma): fileio read() and DMABUF.
 *   sim-dac    outputs voltage0..1, le:S16/16>>0; DMA-type buffer: fileio
 *              write(), DMABUF, cyclic DMABUF blocks (played until abort).
 *   sim-kfifo  inputs voltage0..1, le:S16/16>>0, no timestamp; kfifo buffer
 *              (software mode, no DMABUF: ATTACH fails with EPERM).
 *
 * Device attributes:
 *   sampling_frequency  rw, Hz; sim-adc/sim-dac default 1000000, sim-kfifo
 *                       100000; applies at the next buffer enable; 0 = as
 *                       fast as possible (then a DMA device never overruns
 *                       or underruns: blocks follow each other without gap).
 *   waveform            rw, sim-adc and sim-kfifo: "ramp" (default): channel
 *                       c at sample n is (s16)((n + 1000 * c) & 0xffff), n
 *                       counted from buffer enable; "sine": 90 % full scale,
 *                       channel c has a period of 360 / (c + 1) samples.
 *                       Applies at the next enable.
 *   fault               rw, sim-adc and sim-dac: "none", "stall" (no block
 *                       completes; time and n keep running; back to none, the
 *                       queued blocks restart at the current sample and the
 *                       skipped samples count as overruns/underruns),
 *                       "error" (the next block to complete fails, then fault
 *                       is none again: a DMABUF block's fence signals -EINTR,
 *                       the only failure 6.12 lets a driver report; a fileio
 *                       capture block completes empty, so read() skips it; a
 *                       fileio output block completes unconsumed).
 *   overruns            ro, sim-adc, reset at enable: samples dropped because
 *                       no block was queued when they were due. n keeps
 *                       running through the gap: the next block starts where
 *                       the clock is, so the ramp jump equals the count.
 *   samples_consumed    ro, sim-dac, reset at enable: channel sets consumed.
 *   checksum            ro, sim-dac, reset at enable: FNV-1a 64 over every
 *                       consumed byte in order, "0x%016llx" (0xcbf29ce484222325
 *                       before any data).
 *   underruns           ro, sim-dac, reset at enable: samples the device
 *                       wanted while no block was queued, counted only once a
 *                       first block arrived (a DAC idle before its first block
 *                       is not underrunning).
 * DMA buffers also have buffer0/length_align_bytes (2), like dmaengine's.
 *
 * Addition: sim-phy, sim-adc's companion (like ad9361-phy beside
 * cf-ad9361-lpc): no buffer, no scan channels; its attributes change what
 * sim-adc's waveform=sine produces, from the next block sim-adc fills on
 * (blocks in flight keep what they had). Untouched (or back at the
 * defaults), sim-adc's output is exactly the one above; ramp and sim-kfifo
 * never change.
 *   out_altvoltage0_RX_LO_frequency  rw, Hz (libiio: channel altvoltage0,
 *                       output, name RX_LO, attribute frequency); default
 *                       2400000000; 70000000..6000000000 else EINVAL; the
 *                       driver rounds to its synthesizer step of 1000 Hz
 *                       (the value read back). The sine's tone is
 *                       m = (LO - 2399000000) / 1000000, clamped to 1..40:
 *                       channel c has a period of 360 / (m * (c + 1))
 *                       samples, i.e. m * (c + 1) * rate / 360 Hz (at the
 *                       default m = 1, the pinned 360 / (c + 1)).
 *   out_altvoltage0_RX_LO_powerdown  rw, "0" (default) or "1": the sine is
 *                       0 (no signal) while the LO is powered down.
 *   in_voltage0_hardwaregain  rw, dB (channel voltage0, input, attribute
 *                       hardwaregain), read as "%d.000000 dB"; default 0;
 *                       -40..0 else EINVAL; rounded to whole dB (half away
 *                       from zero); scales every sine channel by
 *                       10^(gain/20) (Q15, arithmetic shift).
 *   in_temp0_input      ro, millidegrees Celsius, always 35000.
 *   direct_reg_access   debugfs (when mounted): 16 scratch registers,
 *                       "0xREG" selects, "0xREG 0xVAL" writes; no effect.
 *
 * Additions (benchmark switches; the defaults keep every behaviour above),
 * sim-adc and sim-dac:
 *   fill                rw, "1" (default) or "0"; applies at the next enable.
 *                       0: the engine touches no data, like a real DMA
 *                       engine whose transfer costs the CPU nothing: sim-adc
 *                       completes blocks with whatever they held (not the
 *                       waveform), sim-dac consumes without reading;
 *                       bookkeeping (timing, overruns/underruns,
 *                       samples_consumed, blocks_done) stays. sim-dac's
 *                       checksum then reads "off" until the next enable
 *                       with fill 1.
 *   fast                rw, "0" (default) or "1"; applies at the next enable.
 *                       1: the work item runs on the module's own unbound
 *                       high-priority workqueue (WQ_UNBOUND | WQ_HIGHPRI,
 *                       any CPU, nice -20) and completes every due block
 *                       in one loop (cond_resched() between blocks) until
 *                       none is due. 0: system_unbound_wq at normal
 *                       priority, at most 16 blocks per run, then the work
 *                       re-queues itself behind other work. Timing is the
 *                       same (a block never completes before it is due); at
 *                       sampling_frequency 0 the fast worker leaves the
 *                       kernel's enqueue/completion path as the limit.
 *   fill_ns             ro, reset at enable: nanoseconds the engine spent
 *                       filling (sim-adc) or reading and checksumming
 *                       (sim-dac) block data (ktime_get_ns() around it);
 *                       0 with fill 0.
 *   blocks_done         ro, reset at enable: blocks completed (each pass of
 *                       a cyclic block counts; a block failed by
 *                       fault=error does not).
 *
 * Addition (ADI's AXI ADC/DAC status register), sim-adc and sim-dac:
 *   direct_reg_access   debugfs (when mounted): one register, 0x80000088
 *                       (REG_STATUS of ADI's AXI cores; any other address
 *                       is EINVAL), "0x80000088" selects it, a read gives
 *                       "0x%X", "0x80000088 0xVAL" clears the bits set in
 *                       VAL (write 1 to clear). Sticky bits: bit 2 (0x4,
 *                       ADC overflow) is set by every sim-adc overrun, bit
 *                       0 (0x1, DAC underflow) by every sim-dac underrun,
 *                       i.e. whenever overruns/underruns grows (also when
 *                       a read of either, or of the register, accounts a
 *                       gap that is still going on). Cleared at enable.
 *   xflow_events        ro, reset at enable: times the bit went from clear
 *                       to set; a reader that reads and clears after every
 *                       block sees exactly this many events, plus one still
 *                       set in the register if the last came after its last
 *                       read.
 *
 * Addition (a crystal off its nominal rate), sim-adc and sim-dac:
 *   clock_ppm           rw, integer -100000..100000 (else EINVAL), default
 *                       0; applies at the next enable. The engine runs at
 *                       sampling_frequency * (1 + clock_ppm / 1e6) in the
 *                       timing below, while sampling_frequency still reads
 *                       the nominal rate (a board's crystal is never exact).
 *
 * Timing: blocks queued before enable (fileio capture blocks, DMABUFs
 * enqueued while disabled) start at n = 0 and follow each other. A block of
 * L samples placed at sample n completes at t0 + (n + L) / rate, t0 being
 * the enable time: an hrtimer wakes a work item then, which fills (through
 * block->vaddr for fileio, the sg_table's pages for a DMABUF) or consumes
 * exactly bytes_used bytes and completes the block. A block queued after its
 * predecessor's end starts at the current sample. sim-kfifo pushes the due
 * samples every millisecond (at most 4096 per tick; at rate 0, until the
 * fifo is full, losing nothing).
 *
 * The DMA side mirrors industrialio-buffer-dmaengine.c (same access
 * functions, DMABUF ones included), and works around 6.12's fileio
 * next_dequeue bug in its enable path (docs/kernel-bugs.md).
 */

#include <linux/dma-mapping.h>
#include <linux/fixp-arith.h>
#include <linux/hrtimer.h>
#include <linux/math64.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/workqueue.h>

#include <linux/iio/buffer-dma.h>
#include <linux/iio/buffer.h>
#include <linux/iio/buffer_impl.h>
#include <linux/iio/iio.h>
#include <linux/iio/kfifo_buf.h>
#include <linux/iio/sysfs.h>

#define SIM_DMA_DEFAULT_RATE	1000000
#define SIM_KFIFO_DEFAULT_RATE	100000
#define SIM_MAX_RATE		100000000
/* clock_ppm's range: a crystal is within 100 ppm; tests want more */
#define SIM_MAX_PPM		100000
#define SIM_PPM_SCALE		1000000ULL
#define SIM_MAX_CHANNELS	4
/* Blocks the work item completes before it yields the CPU */
#define SIM_STEPS_PER_RUN	16
#define SIM_KFIFO_TICK_NS	NSEC_PER_MSEC
/* A kfifo tick pushes at most this many samples; the rest are dropped */
#define SIM_KFIFO_MAX_PER_TICK	4096
#define SIM_SINE_PERIOD		360
#define SIM_FNV_OFFSET		0xcbf29ce484222325ULL
#define SIM_FNV_PRIME		0x100000001b3ULL
/* Reported as length_align_bytes, like dmaengine's bus width */
#define SIM_LENGTH_ALIGN	2
/* Staging for generated samples: a multiple of every datum size (2..8) */
#define SIM_GEN_BYTES		384

enum sim_kind { SIM_ADC, SIM_DAC, SIM_KFIFO, SIM_PHY };
enum { SIM_RAMP, SIM_SINE };
enum { SIM_FAULT_NONE, SIM_FAULT_STALL, SIM_FAULT_ERROR };

static const char * const sim_waveform_names[] = { "ramp", "sine" };
static const char * const sim_fault_names[] = { "none", "stall", "error" };

static s16 sim_sine_table[SIM_SINE_PERIOD];

/* sim-phy: what sim-adc's next block uses (WRITE_ONCE by sim-phy's stores) */
#define SIM_PHY_LO_DEFAULT	2400000000ULL
#define SIM_PHY_LO_MIN		70000000ULL
#define SIM_PHY_LO_MAX		6000000000ULL
#define SIM_PHY_LO_STEP		1000
#define SIM_PHY_LO_BASE		2399000000ULL
#define SIM_PHY_LO_PER_TONE	1000000
#define SIM_PHY_TONE_MAX	40
#define SIM_PHY_GAIN_MIN	-40
#define SIM_PHY_TEMP		35000
#define SIM_PHY_NREGS		16
#define SIM_UNITY_Q15		32768
/* ADI's AXI ADC/DAC REG_STATUS and its sticky bits */
#define SIM_XFLOW_REG		0x80000088
#define SIM_XFLOW_ADC_OVF	BIT(2)
#define SIM_XFLOW_DAC_UNF	BIT(0)

/* round(32768 * 10^(-g / 20)) for g = 0..40 dB */
static const u16 sim_gain_q15[] = {
	32768, 29205, 26029, 23198, 20675, 18427, 16423, 14637, 13045, 11627,
	10362, 9235, 8231, 7336, 6538, 5827, 5193, 4629, 4125, 3677, 3277,
	2920, 2603, 2320, 2068, 1843, 1642, 1464, 1305, 1163, 1036, 924, 823,
	734, 654, 583, 519, 463, 413, 368, 328,
};

static u64 sim_phy_lo = SIM_PHY_LO_DEFAULT;
static bool sim_phy_lo_powerdown;
static int sim_phy_gain_db;
static u32 sim_phy_regs[SIM_PHY_NREGS];
/* serialises sim-phy's stores (the values above are read lock-free) */
static DEFINE_MUTEX(sim_phy_lock);

/* The fast worker's workqueue (attribute fast): unbound, high priority */
static struct workqueue_struct *sim_fast_wq;

/* What a stream needs to generate samples; fixed at buffer enable. */
struct sim_scan {
	unsigned int chans[SIM_MAX_CHANNELS];	/* enabled channels, in order */
	unsigned int nchans;
	unsigned int bpd;			/* bytes per channel set */
	int waveform;
	u32 rate;
	u64 real_rate_uhz;	/* rate * (1e6 + clock_ppm): the engine's pace */
	u32 tone;		/* sine: sim-phy's LO multiplier, 1 by default */
	u32 gain_q15;		/* sine: sim-phy's gain, SIM_UNITY_Q15 by default */
};

/* One block in the hands of the simulated engine, placed on the clock. */
struct sim_xfer {
	struct list_head head;
	struct iio_dma_buffer_block *block;
	u64 start;	/* sample index of its first channel set */
	u64 len;	/* channel sets it spans */
};

struct sim_dev;

/*
 * A DMA-type buffer. Lock order: queue.lock (mutex, held by the core around
 * submit, abort and enqueue) before queue.list_lock (spinlock, also taken by
 * the core in iio_dma_buffer_block_done()). The work item only ever takes
 * list_lock, so abort() may wait for it while holding queue.lock.
 */
struct sim_dma {
	struct iio_dma_buffer_queue queue;	/* first: the core's container */
	struct sim_dev *sim;
	struct hrtimer timer;
	struct work_struct work;
	bool gone;		/* device unbound; written under queue.lock */

	/* Under queue.list_lock: */
	struct list_head xfers;	/* placed blocks, in completion order */
	struct sim_scan scan;
	ktime_t t0;		/* enable time: sample 0 */
	bool running;		/* clock started, not aborted */
	bool fed;		/* DAC: a block arrived since enable */
	u64 next_n;		/* where the next block starts if in time */
	u64 lost;		/* ADC overruns or DAC underruns */
	u64 bytes_done;		/* DAC bytes consumed */
	u64 checksum;		/* DAC FNV-1a 64 of the bytes consumed */
	bool fill;		/* fill or consume data (fixed at enable) */
	bool fast;		/* the fast worker (fixed at enable) */
	u64 fill_ns;		/* spent filling or consuming since enable */
	u64 blocks_done;	/* blocks completed since enable */
	u32 xflow;		/* the status register's sticky bits */
	u64 xflow_events;	/* clear -> set transitions since enable */
};

/* iio_priv() of every simulated device */
struct sim_dev {
	enum sim_kind kind;
	struct iio_dev *indio_dev;
	u32 rate;		/* sampling_frequency, applied at enable */
	int waveform;		/* applied at enable */
	int fault;		/* SIM_FAULT_*, cmpxchg'd by the engine */
	int clock_ppm;		/* applied at enable */
	bool fill;		/* applied at enable */
	bool fast;		/* applied at enable */
	struct sim_dma *dma;	/* sim-adc, sim-dac */

	/* sim-kfifo: only the timer touches these while enabled */
	struct hrtimer kfifo_timer;
	struct sim_scan kfifo_scan;
	ktime_t kfifo_t0;
	u64 kfifo_next_n;
};

/* ---- sample generation ------------------------------------------------ */

static u16 sim_sample(const struct sim_scan *scan, u64 n, unsigned int chan)
{
	u32 phase;

	s32 v;

	if (scan->waveform == SIM_SINE) {
		div_u64_rem(n, SIM_SINE_PERIOD, &phase);
		/* channel c runs at (c + 1) times the base frequency */
		v = sim_sine_table[phase * (chan + 1) * scan->tone %
				   SIM_SINE_PERIOD];
		if (scan->gain_q15 != SIM_UNITY_Q15)
			v = (v * (s32)scan->gain_q15) >> 15;
		return (u16)(s16)v;
	}
	return (u16)(n + 1000 * chan);
}

/* Produces the byte stream of channel sets from sample n on. */
struct sim_gen {
	const struct sim_scan *scan;
	u64 n;
	size_t pos, len;
	u8 buf[SIM_GEN_BYTES];
};

static void sim_gen_refill(struct sim_gen *g)
{
	const struct sim_scan *scan = g->scan;
	u8 *p = g->buf;
	unsigned int i, k, sets = SIM_GEN_BYTES / scan->bpd;

	for (k = 0; k < sets; k++, g->n++)
		for (i = 0; i < scan->nchans; i++, p += 2)
			put_unaligned_le16(sim_sample(scan, g->n, scan->chans[i]), p);
	g->pos = 0;
	g->len = p - g->buf;
}

static void sim_gen_copy(struct sim_gen *g, u8 *dst, size_t len)
{
	size_t c;

	while (len) {
		if (g->pos == g->len)
			sim_gen_refill(g);
		c = min(len, g->len - g->pos);
		memcpy(dst, g->buf + g->pos, c);
		g->pos += c;
		dst += c;
		len -= c;
	}
}

static u64 sim_fnv1a(u64 hash, const u8 *p, size_t len)
{
	while (len--) {
		hash ^= *p++;
		hash *= SIM_FNV_PRIME;
	}
	return hash;
}

static void sim_scan_init(struct sim_scan *scan, struct iio_dev *indio_dev)
{
	struct sim_dev *sim = iio_priv(indio_dev);
	unsigned int bit;

	scan->nchans = 0;
	iio_for_each_active_channel(indio_dev, bit) {
		if (scan->nchans < SIM_MAX_CHANNELS)
			scan->chans[scan->nchans++] = bit;
	}
	/* every channel is 16-bit storage, no timestamp: sets are packed */
	scan->bpd = 2 * scan->nchans;
	scan->waveform = READ_ONCE(sim->waveform);
	scan->rate = READ_ONCE(sim->rate);
	scan->real_rate_uhz = (u64)scan->rate *
		(SIM_PPM_SCALE + READ_ONCE(sim->clock_ppm));
	scan->tone = 1;
	scan->gain_q15 = SIM_UNITY_Q15;
}

/* sim-adc's blocks follow sim-phy's settings of the moment they are filled. */
static void sim_phy_apply(struct sim_scan *scan)
{
	u64 lo = READ_ONCE(sim_phy_lo);
	u64 tone = lo > SIM_PHY_LO_BASE ?
		div_u64(lo - SIM_PHY_LO_BASE, SIM_PHY_LO_PER_TONE) : 0;

	scan->tone = clamp_t(u64, tone, 1, SIM_PHY_TONE_MAX);
	scan->gain_q15 = READ_ONCE(sim_phy_lo_powerdown) ? 0 :
		sim_gain_q15[-READ_ONCE(sim_phy_gain_db)];
}

/* ---- the simulated DMA engine ------------------------------------------ */

static struct sim_dma *to_sim_dma(struct iio_dma_buffer_queue *queue)
{
	return container_of(queue, struct sim_dma, queue);
}

static struct sim_dma *buffer_to_sim_dma(struct iio_buffer *buffer)
{
	return container_of(buffer, struct sim_dma, queue.buffer);
}

static bool sim_dma_is_input(struct sim_dma *dma)
{
	return dma->queue.buffer.direction == IIO_BUFFER_DIRECTION_IN;
}

/* The sample the device is at now. Under list_lock. */
static u64 sim_dma_now_n(struct sim_dma *dma, ktime_t now)
{
	if (!dma->running || !dma->scan.rate || ktime_before(now, dma->t0))
		return 0;
	return mul_u64_u64_div_u64(ktime_to_ns(ktime_sub(now, dma->t0)),
				   dma->scan.real_rate_uhz,
				   NSEC_PER_SEC * SIM_PPM_SCALE);
}

/* When the block's last sample is due. Under list_lock. */
static ktime_t sim_dma_due(struct sim_dma *dma, struct sim_xfer *x)
{
	if (!dma->scan.rate)
		return 0;
	return ktime_add_ns(dma->t0,
			    mul_u64_u64_div_u64(x->start + x->len,
						NSEC_PER_SEC * SIM_PPM_SCALE,
						dma->scan.real_rate_uhz));
}

/* Samples were lost: sets the sticky bit. Under list_lock. */
static void sim_dma_lose(struct sim_dma *dma, u64 n)
{
	u32 bit = sim_dma_is_input(dma) ? SIM_XFLOW_ADC_OVF : SIM_XFLOW_DAC_UNF;

	if (!n)
		return;
	dma->lost += n;
	if (!(dma->xflow & bit))
		dma->xflow_events++;
	dma->xflow |= bit;
}

/*
 * Places a block after the previous one, or at the current sample if the
 * device already went past the previous one's end: the samples in between
 * were dropped (ADC overrun) or wanted (DAC underrun). A DAC idle before its
 * first block is not underrunning. Under list_lock.
 */
static void sim_dma_place(struct sim_dma *dma, struct sim_xfer *x, u64 now_n)
{
	u64 start = max(dma->next_n, now_n);

	if (sim_dma_is_input(dma) || dma->fed)
		sim_dma_lose(dma, start - dma->next_n);
	dma->fed = true;
	x->start = start;
	dma->next_n = start + x->len;
}

/* Accounts the samples lost so far while no block is queued. */
static void sim_dma_settle(struct sim_dma *dma, ktime_t now)
{
	u64 now_n = sim_dma_now_n(dma, now);

	if (!list_empty(&dma->xfers) || now_n <= dma->next_n)
		return;
	if (sim_dma_is_input(dma) || dma->fed)
		sim_dma_lose(dma, now_n - dma->next_n);
	dma->next_n = now_n;
}

/* fast only changes in enable, while the work is idle (abort cancelled it) */
static void sim_dma_kick(struct sim_dma *dma)
{
	queue_work(READ_ONCE(dma->fast) ? sim_fast_wq : system_unbound_wq,
		   &dma->work);
}

static int sim_dma_submit(struct iio_dma_buffer_queue *queue,
			  struct iio_dma_buffer_block *block)
{
	struct sim_dma *dma = to_sim_dma(queue);
	unsigned int bpd = dma->scan.bpd;
	struct sim_xfer *x;
	bool running;

	if (dma->gone)
		return -ENODEV;
	if (!bpd)
		return -EINVAL;
	/* like dmaengine: a fileio capture block is filled whole */
	if (block->fileio && sim_dma_is_input(dma))
		block->bytes_used = rounddown(block->size, bpd);
	if (!block->bytes_used)
		return -EINVAL;

	x = kzalloc(sizeof(*x), GFP_NOWAIT);
	if (!x)
		return -ENOMEM;
	x->block = block;
	x->len = block->bytes_used / bpd;

	spin_lock_irq(&queue->list_lock);
	sim_dma_place(dma, x, sim_dma_now_n(dma, ktime_get()));
	list_add_tail(&x->head, &dma->xfers);
	running = dma->running;
	spin_unlock_irq(&queue->list_lock);

	if (running)
		sim_dma_kick(dma);
	return 0;
}

static void sim_dma_fill(struct sim_dma *dma, struct sim_xfer *x)
{
	struct iio_dma_buffer_block *block = x->block;
	struct sim_scan scan = dma->scan;
	struct sim_gen g = { .scan = &scan, .n = x->start };
	size_t left = block->bytes_used, c;
	struct sg_mapping_iter miter;

	if (dma->sim->kind == SIM_ADC)
		sim_phy_apply(&scan);
	if (!block->sg_table) {
		sim_gen_copy(&g, block->vaddr, left);
		return;
	}
	/* a DMABUF block: write through its pages */
	sg_miter_start(&miter, block->sg_table->sgl, block->sg_table->orig_nents,
		       SG_MITER_ATOMIC | SG_MITER_TO_SG);
	while (left && sg_miter_next(&miter)) {
		c = min(left, miter.length);
		sim_gen_copy(&g, miter.addr, c);
		left -= c;
	}
	sg_miter_stop(&miter);
}

/* Checksums the block into *hash; returns the bytes consumed. */
static size_t sim_dma_consume(struct sim_dma *dma, struct sim_xfer *x,
			      u64 *hash_out)
{
	struct iio_dma_buffer_block *block = x->block;
	size_t left = block->bytes_used, c;
	struct sg_mapping_iter miter;
	u64 hash;

	/* only this work item writes checksum */
	hash = READ_ONCE(dma->checksum);
	if (!block->sg_table) {
		hash = sim_fnv1a(hash, block->vaddr, left);
		left = 0;
	} else {
		sg_miter_start(&miter, block->sg_table->sgl,
			       block->sg_table->orig_nents,
			       SG_MITER_ATOMIC | SG_MITER_FROM_SG);
		while (left && sg_miter_next(&miter)) {
			c = min(left, miter.length);
			hash = sim_fnv1a(hash, miter.addr, c);
			left -= c;
		}
		sg_miter_stop(&miter);
	}
	*hash_out = hash;
	return block->bytes_used - left;
}

/* fault=error: fail the block the only way 6.12's DMA buffer code allows. */
static void sim_dma_fail(struct sim_dma *dma, struct sim_xfer *x)
{
	struct iio_dma_buffer_block *block = x->block;
	LIST_HEAD(one);

	kfree(x);
	if (!block->fileio) {
		/* the abort path signals the block's fence with -EINTR */
		list_add_tail(&block->head, &one);
		iio_dma_buffer_block_list_abort(&dma->queue, &one);
		return;
	}
	/*
	 * fileio has no way to report an error. A capture block completes
	 * empty (read() skips it: the ramp jumps by one block); an output
	 * block completes unconsumed (bytes_used must stay for write()).
	 */
	if (sim_dma_is_input(dma))
		block->bytes_used = 0;
	iio_dma_buffer_block_done(block);
}

static void sim_dma_transfer(struct sim_dma *dma, struct sim_xfer *x)
{
	struct iio_dma_buffer_block *block = x->block;
	bool input = sim_dma_is_input(dma);
	size_t consumed = block->bytes_used;
	u64 hash = 0, t = 0;

	/* fill is fixed while running; fill 0 is a DMA engine costing no CPU */
	if (dma->fill) {
		t = ktime_get_ns();
		if (input)
			sim_dma_fill(dma, x);
		else
			consumed = sim_dma_consume(dma, x, &hash);
		t = ktime_get_ns() - t;
	}

	spin_lock_irq(&dma->queue.list_lock);
	if (!input && dma->fill)
		dma->checksum = hash;
	if (!input)
		dma->bytes_done += consumed;
	dma->fill_ns += t;
	dma->blocks_done++;
	spin_unlock_irq(&dma->queue.list_lock);

	if (block->cyclic) {
		/* stays at the head: play it again, seamlessly */
		spin_lock_irq(&dma->queue.list_lock);
		x->start += x->len;
		dma->next_n = max(dma->next_n, x->start + x->len);
		spin_unlock_irq(&dma->queue.list_lock);
		return;
	}
	kfree(x);
	iio_dma_buffer_block_done(block);
}

/* Completes the head block if it is due. True if it did (more may be due). */
static bool sim_dma_step(struct sim_dma *dma)
{
	struct iio_dma_buffer_queue *queue = &dma->queue;
	struct sim_xfer *x;
	bool failed = false;
	ktime_t due;
	int fault;

	spin_lock_irq(&queue->list_lock);
	x = list_first_entry_or_null(&dma->xfers, struct sim_xfer, head);
	fault = READ_ONCE(dma->sim->fault);
	if (!dma->running || !x || fault == SIM_FAULT_STALL)
		goto idle;
	due = sim_dma_due(dma, x);
	if (ktime_after(due, ktime_get())) {
		hrtimer_start(&dma->timer, due, HRTIMER_MODE_ABS);
		goto idle;
	}
	if (fault == SIM_FAULT_ERROR)
		failed = cmpxchg(&dma->sim->fault, SIM_FAULT_ERROR,
				 SIM_FAULT_NONE) == SIM_FAULT_ERROR;
	if (failed || !x->block->cyclic)
		list_del(&x->head);
	spin_unlock_irq(&queue->list_lock);

	if (failed)
		sim_dma_fail(dma, x);
	else
		sim_dma_transfer(dma, x);
	return true;

idle:
	spin_unlock_irq(&queue->list_lock);
	return false;
}

static void sim_dma_work_fn(struct work_struct *work)
{
	struct sim_dma *dma = container_of(work, struct sim_dma, work);
	unsigned int i;

	if (READ_ONCE(dma->fast)) {
		/* the fast worker: every due block, without re-queueing */
		while (sim_dma_step(dma))
			cond_resched();
		return;
	}
	for (i = 0; i < SIM_STEPS_PER_RUN; i++)
		if (!sim_dma_step(dma))
			return;
	/* more is due (rate 0, or catching up): let others run first */
	sim_dma_kick(dma);
}

static enum hrtimer_restart sim_dma_timer_fn(struct hrtimer *timer)
{
	struct sim_dma *dma = container_of(timer, struct sim_dma, timer);

	sim_dma_kick(dma);
	return HRTIMER_NORESTART;
}

/* fault left "stall": the queued blocks restart from the current sample. */
static void sim_dma_unstall(struct sim_dma *dma)
{
	struct iio_dma_buffer_queue *queue = &dma->queue;
	struct sim_xfer *x;
	bool running;
	u64 now_n;

	spin_lock_irq(&queue->list_lock);
	running = dma->running;
	x = list_first_entry_or_null(&dma->xfers, struct sim_xfer, head);
	if (running && x) {
		now_n = sim_dma_now_n(dma, ktime_get());
		dma->next_n = x->start;
		list_for_each_entry(x, &dma->xfers, head)
			sim_dma_place(dma, x, now_n);
	}
	spin_unlock_irq(&queue->list_lock);
	if (running)
		sim_dma_kick(dma);
}

/* iio_dma_buffer_ops.abort: called by the core under queue.lock on disable */
static void sim_dma_abort(struct iio_dma_buffer_queue *queue)
{
	struct sim_dma *dma = to_sim_dma(queue);
	struct sim_xfer *x, *tmp;
	LIST_HEAD(blocks);

	spin_lock_irq(&queue->list_lock);
	sim_dma_settle(dma, ktime_get());
	dma->running = false;
	spin_unlock_irq(&queue->list_lock);

	/* nothing re-arms either once running is false */
	hrtimer_cancel(&dma->timer);
	cancel_work_sync(&dma->work);

	spin_lock_irq(&queue->list_lock);
	list_for_each_entry_safe(x, tmp, &dma->xfers, head) {
		list_del(&x->head);
		list_add_tail(&x->block->head, &blocks);
		kfree(x);
	}
	spin_unlock_irq(&queue->list_lock);

	iio_dma_buffer_block_list_abort(queue, &blocks);
}

static const struct iio_dma_buffer_ops sim_dma_ops = {
	.submit = sim_dma_submit,
	.abort = sim_dma_abort,
};

/* ---- buffer access functions (mirroring dmaengine's) -------------------- */

static int sim_dma_enable(struct iio_buffer *buffer, struct iio_dev *indio_dev)
{
	struct sim_dma *dma = buffer_to_sim_dma(buffer);
	struct iio_dma_buffer_queue *queue = &dma->queue;
	struct sim_scan scan;
	int ret;

	sim_scan_init(&scan, indio_dev);

	mutex_lock(&queue->lock);
	spin_lock_irq(&queue->list_lock);
	dma->scan = scan;
	dma->running = false;
	dma->fed = false;
	dma->next_n = 0;
	dma->lost = 0;
	dma->bytes_done = 0;
	dma->checksum = SIM_FNV_OFFSET;
	dma->fill = READ_ONCE(dma->sim->fill);
	dma->fast = READ_ONCE(dma->sim->fast);
	dma->fill_ns = 0;
	dma->blocks_done = 0;
	dma->xflow = 0;
	dma->xflow_events = 0;
	/*
	 * Work around a 6.12 bug: industrialio-buffer-dma never resets
	 * fileio.next_dequeue, so after a session that read an odd number of
	 * blocks the next one would return block 1 first
	 * (docs/kernel-bugs.md).
	 */
	queue->fileio.next_dequeue = 0;
	spin_unlock_irq(&queue->list_lock);
	mutex_unlock(&queue->lock);

	/* blocks queued while disabled are placed now, from sample 0 on */
	ret = iio_dma_buffer_enable(buffer, indio_dev);

	spin_lock_irq(&queue->list_lock);
	dma->t0 = ktime_get();
	dma->running = true;
	spin_unlock_irq(&queue->list_lock);
	sim_dma_kick(dma);
	return ret;
}

static struct iio_dma_buffer_block *
sim_dma_attach_dmabuf(struct iio_buffer *buffer,
		      struct dma_buf_attachment *attach)
{
	if (READ_ONCE(buffer_to_sim_dma(buffer)->gone))
		return ERR_PTR(-ENODEV);
	return iio_dma_buffer_attach_dmabuf(buffer, attach);
}

/* Called by the core under queue.lock; an error here signals the fence. */
static int sim_dma_enqueue_dmabuf(struct iio_buffer *buffer,
				  struct iio_dma_buffer_block *block,
				  struct dma_fence *fence, struct sg_table *sgt,
				  size_t size, bool cyclic)
{
	if (buffer_to_sim_dma(buffer)->gone)
		return -ENODEV;
	return iio_dma_buffer_enqueue_dmabuf(buffer, block, fence, sgt, size,
					     cyclic);
}

static void sim_dma_release(struct iio_buffer *buffer)
{
	struct sim_dma *dma = buffer_to_sim_dma(buffer);

	iio_dma_buffer_release(&dma->queue);
	kfree(dma);
}

static const struct iio_buffer_access_funcs sim_dma_access = {
	.read = iio_dma_buffer_read,
	.write = iio_dma_buffer_write,
	.set_bytes_per_datum = iio_dma_buffer_set_bytes_per_datum,
	.set_length = iio_dma_buffer_set_length,
	.request_update = iio_dma_buffer_request_update,
	.enable = sim_dma_enable,
	.disable = iio_dma_buffer_disable,
	.data_available = iio_dma_buffer_usage,
	.space_available = iio_dma_buffer_usage,
	.release = sim_dma_release,

	.enqueue_dmabuf = sim_dma_enqueue_dmabuf,
	.attach_dmabuf = sim_dma_attach_dmabuf,
	.detach_dmabuf = iio_dma_buffer_detach_dmabuf,

	.lock_queue = iio_dma_buffer_lock_queue,
	.unlock_queue = iio_dma_buffer_unlock_queue,

	.get_dma_dev = iio_dma_buffer_get_dma_dev,

	.modes = INDIO_BUFFER_HARDWARE,
	.flags = INDIO_BUFFER_FLAG_FIXED_WATERMARK,
};

static ssize_t sim_dma_length_align_show(struct device *dev,
					 struct device_attribute *attr,
					 char *buf)
{
	return sysfs_emit(buf, "%u\n", SIM_LENGTH_ALIGN);
}

static IIO_DEVICE_ATTR(length_align_bytes, 0444, sim_dma_length_align_show,
		       NULL, 0);

static const struct iio_dev_attr *sim_dma_buffer_attrs[] = {
	&iio_dev_attr_length_align_bytes,
	NULL,
};

/*
 * devm action, runs after iio_device_unregister() (which disabled the buffer
 * and aborted every block in flight).
 */
static void sim_dma_free(void *data)
{
	struct sim_dma *dma = data;
	struct iio_buffer *buffer = &dma->queue.buffer;

	/*
	 * Blocks enqueued while the buffer was disabled sit on the core's
	 * incoming list and would never complete: submit them so that they
	 * fail (gone) and their fences signal -ENODEV.
	 */
	iio_dma_buffer_enable(buffer, NULL);
	iio_dma_buffer_disable(buffer, NULL);
	iio_dma_buffer_exit(&dma->queue);
	hrtimer_cancel(&dma->timer);
	cancel_work_sync(&dma->work);
	iio_buffer_put(buffer);
}

static int sim_dma_setup(struct device *dev, struct iio_dev *indio_dev,
			 enum iio_buffer_direction dir)
{
	struct sim_dev *sim = iio_priv(indio_dev);
	struct sim_dma *dma;
	int ret;

	dma = kzalloc(sizeof(*dma), GFP_KERNEL);
	if (!dma)
		return -ENOMEM;
	dma->sim = sim;
	dma->checksum = SIM_FNV_OFFSET;
	dma->fill = true;
	INIT_LIST_HEAD(&dma->xfers);
	INIT_WORK(&dma->work, sim_dma_work_fn);
	hrtimer_init(&dma->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	dma->timer.function = sim_dma_timer_fn;

	iio_dma_buffer_init(&dma->queue, dev, &sim_dma_ops);
	dma->queue.buffer.attrs = sim_dma_buffer_attrs;
	dma->queue.buffer.access = &sim_dma_access;
	dma->queue.buffer.direction = dir;
	indio_dev->modes |= INDIO_BUFFER_HARDWARE;

	ret = iio_device_attach_buffer(indio_dev, &dma->queue.buffer);
	if (ret) {
		iio_dma_buffer_exit(&dma->queue);
		iio_buffer_put(&dma->queue.buffer);
		return ret;
	}
	sim->dma = dma;
	return devm_add_action_or_reset(dev, sim_dma_free, dma);
}

/* ---- sim-kfifo ------------------------------------------------------------ */

static enum hrtimer_restart sim_kfifo_tick(struct hrtimer *timer)
{
	struct sim_dev *sim = container_of(timer, struct sim_dev, kfifo_timer);
	const struct sim_scan *scan = &sim->kfifo_scan;
	u16 set[SIM_MAX_CHANNELS] = { 0 };
	u64 n = sim->kfifo_next_n, end;
	unsigned int i;
	int ret;

	if (scan->rate) {
		end = mul_u64_u64_div_u64(ktime_to_ns(ktime_sub(ktime_get(),
								 sim->kfifo_t0)),
					  scan->rate, NSEC_PER_SEC);
		/* too far behind: drop the oldest (the ramp shows the gap) */
		if (end > n + SIM_KFIFO_MAX_PER_TICK)
			n = end - SIM_KFIFO_MAX_PER_TICK;
	} else {
		end = n + SIM_KFIFO_MAX_PER_TICK;
	}

	for (; n < end; n++) {
		for (i = 0; i < scan->nchans; i++)
			set[i] = cpu_to_le16(sim_sample(scan, n, scan->chans[i]));
		ret = iio_push_to_buffers(sim->indio_dev, set);
		/* rate 0 fills the fifo and loses nothing; paced drops */
		if (ret < 0 && !scan->rate)
			break;
	}
	sim->kfifo_next_n = n;

	hrtimer_forward_now(timer, ns_to_ktime(SIM_KFIFO_TICK_NS));
	return HRTIMER_RESTART;
}

static int sim_kfifo_postenable(struct iio_dev *indio_dev)
{
	struct sim_dev *sim = iio_priv(indio_dev);

	sim_scan_init(&sim->kfifo_scan, indio_dev);
	sim->kfifo_next_n = 0;
	sim->kfifo_t0 = ktime_get();
	hrtimer_start(&sim->kfifo_timer,
		      ktime_add_ns(sim->kfifo_t0, SIM_KFIFO_TICK_NS),
		      HRTIMER_MODE_ABS_SOFT);
	return 0;
}

static int sim_kfifo_predisable(struct iio_dev *indio_dev)
{
	struct sim_dev *sim = iio_priv(indio_dev);

	hrtimer_cancel(&sim->kfifo_timer);
	return 0;
}

static const struct iio_buffer_setup_ops sim_kfifo_setup_ops = {
	.postenable = sim_kfifo_postenable,
	.predisable = sim_kfifo_predisable,
};

/* ---- device attributes ------------------------------------------------- */

static struct sim_dev *dev_to_sim(struct device *dev)
{
	return iio_priv(dev_to_iio_dev(dev));
}

static ssize_t sampling_frequency_show(struct device *dev,
				       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(dev_to_sim(dev)->rate));
}

static ssize_t sampling_frequency_store(struct device *dev,
					struct device_attribute *attr,
					const char *buf, size_t len)
{
	u32 rate;
	int ret;

	ret = kstrtou32(buf, 0, &rate);
	if (ret)
		return ret;
	if (rate > SIM_MAX_RATE)
		return -EINVAL;
	WRITE_ONCE(dev_to_sim(dev)->rate, rate);
	return len;
}

static ssize_t clock_ppm_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(dev_to_sim(dev)->clock_ppm));
}

static ssize_t clock_ppm_store(struct device *dev,
			       struct device_attribute *attr, const char *buf,
			       size_t len)
{
	int ppm;
	int ret;

	ret = kstrtoint(buf, 0, &ppm);
	if (ret)
		return ret;
	if (ppm < -SIM_MAX_PPM || ppm > SIM_MAX_PPM)
		return -EINVAL;
	WRITE_ONCE(dev_to_sim(dev)->clock_ppm, ppm);
	return len;
}

static ssize_t waveform_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  sim_waveform_names[READ_ONCE(dev_to_sim(dev)->waveform)]);
}

static ssize_t waveform_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	int i = sysfs_match_string(sim_waveform_names, buf);

	if (i < 0)
		return i;
	WRITE_ONCE(dev_to_sim(dev)->waveform, i);
	return len;
}

static ssize_t fault_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  sim_fault_names[READ_ONCE(dev_to_sim(dev)->fault)]);
}

static ssize_t fault_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t len)
{
	struct sim_dev *sim = dev_to_sim(dev);
	int i = sysfs_match_string(sim_fault_names, buf);

	if (i < 0)
		return i;
	if (xchg(&sim->fault, i) == SIM_FAULT_STALL && i != SIM_FAULT_STALL)
		sim_dma_unstall(sim->dma);
	return len;
}

static ssize_t sim_lost_show(struct device *dev, char *buf)
{
	struct sim_dma *dma = dev_to_sim(dev)->dma;
	u64 lost;

	spin_lock_irq(&dma->queue.list_lock);
	sim_dma_settle(dma, ktime_get());
	lost = dma->lost;
	spin_unlock_irq(&dma->queue.list_lock);
	return sysfs_emit(buf, "%llu\n", lost);
}

static ssize_t overruns_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sim_lost_show(dev, buf);
}

static ssize_t underruns_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sim_lost_show(dev, buf);
}

static ssize_t samples_consumed_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct sim_dma *dma = dev_to_sim(dev)->dma;
	u64 bytes;
	unsigned int bpd;

	spin_lock_irq(&dma->queue.list_lock);
	bytes = dma->bytes_done;
	bpd = dma->scan.bpd;
	spin_unlock_irq(&dma->queue.list_lock);
	return sysfs_emit(buf, "%llu\n", bpd ? div_u64(bytes, bpd) : 0);
}

static ssize_t checksum_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct sim_dma *dma = dev_to_sim(dev)->dma;
	bool fill;
	u64 hash;

	spin_lock_irq(&dma->queue.list_lock);
	hash = dma->checksum;
	fill = dma->fill;
	spin_unlock_irq(&dma->queue.list_lock);
	/* with fill 0 nothing was read: no checksum to give */
	if (!fill)
		return sysfs_emit(buf, "off\n");
	return sysfs_emit(buf, "0x%016llx\n", hash);
}

static ssize_t sim_bool_show(char *buf, bool *v)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(*v));
}

static ssize_t sim_bool_store(const char *buf, size_t len, bool *v)
{
	bool on;
	int ret = kstrtobool(buf, &on);

	if (ret)
		return ret;
	WRITE_ONCE(*v, on);
	return len;
}

static ssize_t fill_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sim_bool_show(buf, &dev_to_sim(dev)->fill);
}

static ssize_t fill_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t len)
{
	return sim_bool_store(buf, len, &dev_to_sim(dev)->fill);
}

static ssize_t fast_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sim_bool_show(buf, &dev_to_sim(dev)->fast);
}

static ssize_t fast_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t len)
{
	return sim_bool_store(buf, len, &dev_to_sim(dev)->fast);
}

static ssize_t fill_ns_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct sim_dma *dma = dev_to_sim(dev)->dma;
	u64 ns;

	spin_lock_irq(&dma->queue.list_lock);
	ns = dma->fill_ns;
	spin_unlock_irq(&dma->queue.list_lock);
	return sysfs_emit(buf, "%llu\n", ns);
}

static ssize_t blocks_done_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct sim_dma *dma = dev_to_sim(dev)->dma;
	u64 n;

	spin_lock_irq(&dma->queue.list_lock);
	n = dma->blocks_done;
	spin_unlock_irq(&dma->queue.list_lock);
	return sysfs_emit(buf, "%llu\n", n);
}

static ssize_t xflow_events_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct sim_dma *dma = dev_to_sim(dev)->dma;
	u64 n;

	spin_lock_irq(&dma->queue.list_lock);
	sim_dma_settle(dma, ktime_get());
	n = dma->xflow_events;
	spin_unlock_irq(&dma->queue.list_lock);
	return sysfs_emit(buf, "%llu\n", n);
}

/* debugfs direct_reg_access: the AXI status register, write 1 to clear */
static int sim_dma_reg_access(struct iio_dev *indio_dev, unsigned int reg,
			      unsigned int writeval, unsigned int *readval)
{
	struct sim_dma *dma = ((struct sim_dev *)iio_priv(indio_dev))->dma;

	if (reg != SIM_XFLOW_REG)
		return -EINVAL;
	spin_lock_irq(&dma->queue.list_lock);
	if (readval) {
		/* a gap going on now is an overflow now, as on the device */
		if (dma->running)
			sim_dma_settle(dma, ktime_get());
		*readval = dma->xflow;
	} else {
		dma->xflow &= ~writeval;
	}
	spin_unlock_irq(&dma->queue.list_lock);
	return 0;
}

static IIO_DEVICE_ATTR_RW(sampling_frequency, 0);
static IIO_DEVICE_ATTR_RW(waveform, 0);
static IIO_CONST_ATTR(waveform_available, "ramp sine");
static IIO_DEVICE_ATTR_RW(fault, 0);
static IIO_CONST_ATTR(fault_available, "none stall error");
static IIO_DEVICE_ATTR_RO(overruns, 0);
static IIO_DEVICE_ATTR_RO(underruns, 0);
static IIO_DEVICE_ATTR_RO(samples_consumed, 0);
static IIO_DEVICE_ATTR_RO(checksum, 0);
static IIO_DEVICE_ATTR_RW(fill, 0);
static IIO_DEVICE_ATTR_RW(fast, 0);
static IIO_DEVICE_ATTR_RO(fill_ns, 0);
static IIO_DEVICE_ATTR_RO(blocks_done, 0);
static IIO_DEVICE_ATTR_RO(xflow_events, 0);
static IIO_DEVICE_ATTR_RW(clock_ppm, 0);

static struct attribute *sim_adc_attrs[] = {
	&iio_dev_attr_sampling_frequency.dev_attr.attr,
	&iio_dev_attr_waveform.dev_attr.attr,
	&iio_const_attr_waveform_available.dev_attr.attr,
	&iio_dev_attr_fault.dev_attr.attr,
	&iio_const_attr_fault_available.dev_attr.attr,
	&iio_dev_attr_overruns.dev_attr.attr,
	&iio_dev_attr_fill.dev_attr.attr,
	&iio_dev_attr_fast.dev_attr.attr,
	&iio_dev_attr_fill_ns.dev_attr.attr,
	&iio_dev_attr_blocks_done.dev_attr.attr,
	&iio_dev_attr_xflow_events.dev_attr.attr,
	&iio_dev_attr_clock_ppm.dev_attr.attr,
	NULL,
};

static struct attribute *sim_dac_attrs[] = {
	&iio_dev_attr_sampling_frequency.dev_attr.attr,
	&iio_dev_attr_fault.dev_attr.attr,
	&iio_const_attr_fault_available.dev_attr.attr,
	&iio_dev_attr_samples_consumed.dev_attr.attr,
	&iio_dev_attr_checksum.dev_attr.attr,
	&iio_dev_attr_underruns.dev_attr.attr,
	&iio_dev_attr_fill.dev_attr.attr,
	&iio_dev_attr_fast.dev_attr.attr,
	&iio_dev_attr_fill_ns.dev_attr.attr,
	&iio_dev_attr_blocks_done.dev_attr.attr,
	&iio_dev_attr_xflow_events.dev_attr.attr,
	&iio_dev_attr_clock_ppm.dev_attr.attr,
	NULL,
};

static struct attribute *sim_kfifo_attrs[] = {
	&iio_dev_attr_sampling_frequency.dev_attr.attr,
	&iio_dev_attr_waveform.dev_attr.attr,
	&iio_const_attr_waveform_available.dev_attr.attr,
	NULL,
};

static const struct attribute_group sim_adc_group = { .attrs = sim_adc_attrs };
static const struct attribute_group sim_dac_group = { .attrs = sim_dac_attrs };
static const struct attribute_group sim_kfifo_group = { .attrs = sim_kfifo_attrs };

static const struct iio_info sim_adc_info = {
	.attrs = &sim_adc_group,
	.debugfs_reg_access = sim_dma_reg_access,
};

static const struct iio_info sim_dac_info = {
	.attrs = &sim_dac_group,
	.debugfs_reg_access = sim_dma_reg_access,
};
static const struct iio_info sim_kfifo_info = { .attrs = &sim_kfifo_group };

/* ---- sim-phy ------------------------------------------------------------- */

static ssize_t sim_phy_lo_read(struct iio_dev *indio_dev, uintptr_t private,
			       const struct iio_chan_spec *chan, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(sim_phy_lo));
}

static ssize_t sim_phy_lo_write(struct iio_dev *indio_dev, uintptr_t private,
				const struct iio_chan_spec *chan,
				const char *buf, size_t len)
{
	u64 lo;
	int ret = kstrtoull(buf, 10, &lo);

	if (ret)
		return ret;
	if (lo < SIM_PHY_LO_MIN || lo > SIM_PHY_LO_MAX)
		return -EINVAL;
	/* the synthesizer's step: what a real driver rounds to */
	lo = div_u64(lo + SIM_PHY_LO_STEP / 2, SIM_PHY_LO_STEP) *
	     SIM_PHY_LO_STEP;
	mutex_lock(&sim_phy_lock);
	WRITE_ONCE(sim_phy_lo, lo);
	mutex_unlock(&sim_phy_lock);
	return len;
}

static ssize_t sim_phy_powerdown_read(struct iio_dev *indio_dev,
				      uintptr_t private,
				      const struct iio_chan_spec *chan, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(sim_phy_lo_powerdown));
}

static ssize_t sim_phy_powerdown_write(struct iio_dev *indio_dev,
				       uintptr_t private,
				       const struct iio_chan_spec *chan,
				       const char *buf, size_t len)
{
	bool off;
	int ret = kstrtobool(buf, &off);

	if (ret)
		return ret;
	WRITE_ONCE(sim_phy_lo_powerdown, off);
	return len;
}

static ssize_t sim_phy_gain_read(struct iio_dev *indio_dev, uintptr_t private,
				 const struct iio_chan_spec *chan, char *buf)
{
	return sysfs_emit(buf, "%d.000000 dB\n", READ_ONCE(sim_phy_gain_db));
}

/* "-6", "-6.5", "-6.5 dB", like ad9361's hardwaregain */
static ssize_t sim_phy_gain_write(struct iio_dev *indio_dev, uintptr_t private,
				  const struct iio_chan_spec *chan,
				  const char *buf, size_t len)
{
	char num[32];
	char *end;
	int integer, fract, ret;
	s64 micro;

	strscpy(num, buf, sizeof(num));
	end = strstrip(num);
	if (strlen(end) > 2 && !strcmp(end + strlen(end) - 2, "dB"))
		end[strlen(end) - 2] = '\0';
	ret = iio_str_to_fixpoint(strim(end), 100000, &integer, &fract);
	if (ret)
		return ret;
	/* the sign is on the integer part, or on the fraction when that is 0 */
	micro = (s64)integer * 1000000 + (integer < 0 ? -fract : fract);
	micro += micro < 0 ? -500000 : 500000;
	micro = div_s64(micro, 1000000);
	if (micro < SIM_PHY_GAIN_MIN || micro > 0)
		return -EINVAL;
	mutex_lock(&sim_phy_lock);
	WRITE_ONCE(sim_phy_gain_db, (int)micro);
	mutex_unlock(&sim_phy_lock);
	return len;
}

static ssize_t sim_phy_temp_read(struct iio_dev *indio_dev, uintptr_t private,
				 const struct iio_chan_spec *chan, char *buf)
{
	return sysfs_emit(buf, "%d\n", SIM_PHY_TEMP);
}

static const struct iio_chan_spec_ext_info sim_phy_lo_info[] = {
	{ .name = "frequency", .shared = IIO_SEPARATE,
	  .read = sim_phy_lo_read, .write = sim_phy_lo_write },
	/* two attributes: libiio then names the channel RX_LO */
	{ .name = "powerdown", .shared = IIO_SEPARATE,
	  .read = sim_phy_powerdown_read, .write = sim_phy_powerdown_write },
	{ }
};

static const struct iio_chan_spec_ext_info sim_phy_gain_info[] = {
	{ .name = "hardwaregain", .shared = IIO_SEPARATE,
	  .read = sim_phy_gain_read, .write = sim_phy_gain_write },
	{ }
};

static const struct iio_chan_spec_ext_info sim_phy_temp_info[] = {
	{ .name = "input", .shared = IIO_SEPARATE, .read = sim_phy_temp_read },
	{ }
};

static const struct iio_chan_spec sim_phy_channels[] = {
	{ .type = IIO_ALTVOLTAGE, .indexed = 1, .channel = 0, .output = 1,
	  .extend_name = "RX_LO", .scan_index = -1, .ext_info = sim_phy_lo_info },
	{ .type = IIO_VOLTAGE, .indexed = 1, .channel = 0,
	  .scan_index = -1, .ext_info = sim_phy_gain_info },
	{ .type = IIO_TEMP, .indexed = 1, .channel = 0,
	  .scan_index = -1, .ext_info = sim_phy_temp_info },
};

static int sim_phy_reg_access(struct iio_dev *indio_dev, unsigned int reg,
			      unsigned int writeval, unsigned int *readval)
{
	if (reg >= SIM_PHY_NREGS)
		return -EINVAL;
	mutex_lock(&sim_phy_lock);
	if (readval)
		*readval = sim_phy_regs[reg];
	else
		sim_phy_regs[reg] = writeval;
	mutex_unlock(&sim_phy_lock);
	return 0;
}

static const struct iio_info sim_phy_info = {
	.debugfs_reg_access = sim_phy_reg_access,
};

/* ---- channels, platform driver, module ---------------------------------- */

#define SIM_CHAN(_idx, _out) {						\
	.type = IIO_VOLTAGE,						\
	.indexed = 1,							\
	.channel = (_idx),						\
	.output = (_out),						\
	.scan_index = (_idx),						\
	.scan_type = {							\
		.sign = 's',						\
		.realbits = 16,						\
		.storagebits = 16,					\
		.shift = 0,						\
		.endianness = IIO_LE,					\
	},								\
}

static const struct iio_chan_spec sim_adc_channels[] = {
	SIM_CHAN(0, 0), SIM_CHAN(1, 0), SIM_CHAN(2, 0), SIM_CHAN(3, 0),
};

static const struct iio_chan_spec sim_dac_channels[] = {
	SIM_CHAN(0, 1), SIM_CHAN(1, 1),
};

static const struct iio_chan_spec sim_kfifo_channels[] = {
	SIM_CHAN(0, 0), SIM_CHAN(1, 0),
};

static int sim_setup_kind(struct device *dev, struct iio_dev *indio_dev)
{
	struct sim_dev *sim = iio_priv(indio_dev);

	switch (sim->kind) {
	case SIM_ADC:
		indio_dev->channels = sim_adc_channels;
		indio_dev->num_channels = ARRAY_SIZE(sim_adc_channels);
		indio_dev->info = &sim_adc_info;
		return sim_dma_setup(dev, indio_dev, IIO_BUFFER_DIRECTION_IN);
	case SIM_DAC:
		indio_dev->channels = sim_dac_channels;
		indio_dev->num_channels = ARRAY_SIZE(sim_dac_channels);
		indio_dev->info = &sim_dac_info;
		return sim_dma_setup(dev, indio_dev, IIO_BUFFER_DIRECTION_OUT);
	case SIM_KFIFO:
		indio_dev->channels = sim_kfifo_channels;
		indio_dev->num_channels = ARRAY_SIZE(sim_kfifo_channels);
		indio_dev->info = &sim_kfifo_info;
		sim->rate = SIM_KFIFO_DEFAULT_RATE;
		hrtimer_init(&sim->kfifo_timer, CLOCK_MONOTONIC,
			     HRTIMER_MODE_ABS_SOFT);
		sim->kfifo_timer.function = sim_kfifo_tick;
		return devm_iio_kfifo_buffer_setup(dev, indio_dev,
						   &sim_kfifo_setup_ops);
	case SIM_PHY:
		/* a bind starts from the defaults, like a reset chip */
		mutex_lock(&sim_phy_lock);
		WRITE_ONCE(sim_phy_lo, SIM_PHY_LO_DEFAULT);
		WRITE_ONCE(sim_phy_lo_powerdown, false);
		WRITE_ONCE(sim_phy_gain_db, 0);
		memset(sim_phy_regs, 0, sizeof(sim_phy_regs));
		mutex_unlock(&sim_phy_lock);
		indio_dev->channels = sim_phy_channels;
		indio_dev->num_channels = ARRAY_SIZE(sim_phy_channels);
		indio_dev->info = &sim_phy_info;
		return 0;
	}
	return -EINVAL;
}

static int sim_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct iio_dev *indio_dev;
	struct sim_dev *sim;
	int ret;

	ret = dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;

	indio_dev = devm_iio_device_alloc(dev, sizeof(*sim));
	if (!indio_dev)
		return -ENOMEM;
	sim = iio_priv(indio_dev);
	sim->kind = platform_get_device_id(pdev)->driver_data;
	sim->indio_dev = indio_dev;
	sim->rate = SIM_DMA_DEFAULT_RATE;
	sim->waveform = SIM_RAMP;
	sim->fault = SIM_FAULT_NONE;
	sim->fill = true;
	indio_dev->name = pdev->name;
	indio_dev->label = pdev->name;
	indio_dev->modes = INDIO_DIRECT_MODE;
	platform_set_drvdata(pdev, indio_dev);

	ret = sim_setup_kind(dev, indio_dev);
	if (ret)
		return ret;
	return devm_iio_device_register(dev, indio_dev);
}

/* Unbind (simulated hot-unplug): runs before the devm actions. */
static void sim_remove(struct platform_device *pdev)
{
	struct sim_dev *sim = iio_priv(platform_get_drvdata(pdev));

	if (!sim->dma)
		return;
	/* from now on attach, enqueue and submit fail with ENODEV */
	mutex_lock(&sim->dma->queue.lock);
	WRITE_ONCE(sim->dma->gone, true);
	mutex_unlock(&sim->dma->queue.lock);
}

static const struct platform_device_id sim_ids[] = {
	{ "sim-adc", SIM_ADC },
	{ "sim-dac", SIM_DAC },
	{ "sim-kfifo", SIM_KFIFO },
	{ "sim-phy", SIM_PHY },
	{ }
};
MODULE_DEVICE_TABLE(platform, sim_ids);

static struct platform_driver sim_driver = {
	.driver = { .name = "iio-sim" },
	.probe = sim_probe,
	.remove = sim_remove,
	.id_table = sim_ids,
};

/* one platform device per simulated device (sim_ids without its sentinel) */
static struct platform_device *sim_pdevs[4];

static void sim_unregister_devices(void)
{
	int i;

	for (i = ARRAY_SIZE(sim_pdevs) - 1; i >= 0; i--) {
		if (!IS_ERR_OR_NULL(sim_pdevs[i]))
			platform_device_unregister(sim_pdevs[i]);
		sim_pdevs[i] = NULL;
	}
}

static int __init sim_init(void)
{
	unsigned int i;
	int ret;

	/* 90% of full scale, so a sine never clips */
	for (i = 0; i < SIM_SINE_PERIOD; i++)
		sim_sine_table[i] = (fixp_sin32(i) >> 16) * 9 / 10;

	sim_fast_wq = alloc_workqueue("iio-sim-fast", WQ_UNBOUND | WQ_HIGHPRI,
				      0);
	if (!sim_fast_wq)
		return -ENOMEM;
	ret = platform_driver_register(&sim_driver);
	if (ret) {
		destroy_workqueue(sim_fast_wq);
		return ret;
	}
	for (i = 0; i < ARRAY_SIZE(sim_pdevs); i++) {
		sim_pdevs[i] = platform_device_register_simple(sim_ids[i].name,
							       PLATFORM_DEVID_NONE,
							       NULL, 0);
		if (IS_ERR(sim_pdevs[i])) {
			ret = PTR_ERR(sim_pdevs[i]);
			sim_unregister_devices();
			platform_driver_unregister(&sim_driver);
			destroy_workqueue(sim_fast_wq);
			return ret;
		}
	}
	return 0;
}

static void __exit sim_exit(void)
{
	sim_unregister_devices();
	platform_driver_unregister(&sim_driver);
	destroy_workqueue(sim_fast_wq);
}

module_init(sim_init);
module_exit(sim_exit);

MODULE_DESCRIPTION("Simulated DMA ADC/DAC, kfifo and phy IIO devices (gst-iio test bed)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IIO_DMA_BUFFER);

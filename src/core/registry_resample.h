/* registry_resample.h - a resize call (Upsample, F.interpolate, ...) read
 * once, for its shape rule (registry_resample.c) and its kernel
 * (kernels_resample.c), so both follow the same arguments. */
#ifndef GRAFT_REGISTRY_RESAMPLE_H
#define GRAFT_REGISTRY_RESAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/registry.h"

enum resize_mode {
	RESIZE_NEAREST,
	RESIZE_NEAREST_EXACT,
	RESIZE_LINEAR, /* linear, bilinear and trilinear: by the input's rank */
	RESIZE_CUBIC,
	RESIZE_AREA,
};

/* The resizing of the trailing `nd` (1 to 3) dimensions of an input. */
struct resize {
	enum resize_mode mode;
	bool align_corners;
	int nd;
	int64_t out[3];  /* the output sizes */
	double scale[3]; /* the scale factors the kernel maps indices with; 0: in / out */
};

/* Reads the call's size, scale_factor, mode, align_corners and
 * recompute_scale_factor (a module's attributes or a function's
 * arguments, as PyTorch's F.interpolate reads them) and works out the
 * output sizes for input x. 0, or -1 with c->err set (op_fail, op_break). */
int resize_read(struct op_call *c, const struct value *x, struct resize *r);

enum grid_mode { GRID_BILINEAR, GRID_NEAREST, GRID_BICUBIC };
enum grid_padding { GRID_ZEROS, GRID_BORDER, GRID_REFLECTION };

/* How F.grid_sample samples: its mode, padding_mode and align_corners
 * (None is False, as in PyTorch). */
struct grid_sampling {
	enum grid_mode mode;
	enum grid_padding padding;
	bool align_corners;
};

/* Reads a grid_sample call's mode, padding_mode and align_corners (by
 * position after the input and the grid, or by keyword). 0, or -1
 * (op_fail) for a value PyTorch refuses. */
int grid_sampling_read(struct op_call *c, struct grid_sampling *g);

/* The F.pad mode of a pad layer type: "reflect" for ReflectionPad2d,
 * "replicate", or "constant" (ConstantPad*, ZeroPad2d). */
const char *resample_pad_mode(const char *type);

#endif

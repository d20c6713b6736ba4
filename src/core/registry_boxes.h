/* registry_boxes.h - what the box kernels share with the registry's box
 * entries (registry_boxes.c). */
#ifndef GRAFT_REGISTRY_BOXES_H
#define GRAFT_REGISTRY_BOXES_H

#include "core/module.h"
#include "core/value.h"

/* The feature maps a MultiScaleRoIAlign module m pools from x (a dict of
 * tensors): the items whose key is in its featmap_names, in the dict's
 * order, as torchvision filters them. Stores at most max into out; returns
 * the count. */
int registry_boxes_levels(const struct module *m, const struct value *x, const struct value **out,
                          int max);

#endif

/* model.h - a loaded model: its architecture, inputs and weight files.
 * Opening and saving files is format.h's. */
#ifndef GRAFT_MODEL_H
#define GRAFT_MODEL_H

#include <stdbool.h>

#include "core/error.h"
#include "core/module.h"
#include "core/tensor.h"

struct model_input {
	char *name;
	struct shape shape;
	enum dtype dtype;
};

/* What to do with an optimizer's state for parameters whose shape an edit
 * changed, when a training checkpoint is written back (model_pth.h). */
enum model_optimizer {
	MODEL_OPTIMIZER_REFUSE, /* say so and write nothing (the default) */
	MODEL_OPTIMIZER_KEEP,   /* keep it as it was */
	MODEL_OPTIMIZER_DROP    /* drop the state of those parameters */
};

/* Where a model's state_dict sat in the checkpoint it was opened from, so
 * that a save to .pth writes the checkpoint back around it. */
struct model_checkpoint {
	char *path;   /* the checkpoint, read again when saving */
	char *key;    /* its entry holding the state_dict ("model"), or NULL */
	char *prefix; /* stripped from every name ("module."), or NULL */
	/* the parameters as opened, in order (what an optimizer numbers) */
	char **param_names;
	struct shape *param_shapes;
	int nparams;
	enum model_optimizer optimizer;
};

struct model {
	char *name;
	char *source;       /* free text: where the architecture came from */
	char *path;         /* the file it was opened from */
	char *weights_path; /* the weights file, or NULL */
	struct model_input *inputs;
	int ninputs;
	struct module *root;
	bool has_forward;   /* false for a tree built from tensor names alone */
	bool has_weights;   /* every tensor has storage */
	char *note;         /* what opening found out, for the caller to show, or NULL */
	char *config;       /* a model folder's config.json as one line to show
	                     * (escaped, bounded: hub_json.h), or NULL */
	struct model_checkpoint *checkpoint; /* NULL unless opened from a wrapped checkpoint */
};

/* An empty model (no root). */
struct model *model_new(const char *name);
void model_free(struct model *m);
/* Adds printf-style text to m->note, after what it says already ("; "
 * between). */
void model_add_note(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees a checkpoint record. Tolerates NULL. */
void model_checkpoint_free(struct model_checkpoint *c);
/* Adds an input to the model's forward. */
void model_add_input(struct model *m, const char *name, const struct shape *s, enum dtype dt);

/* A deep copy: the module tree is cloned, tensors share storage. */
struct model *model_clone(const struct model *m);

/* Binds every tensor of the model to the same-named one of n named
 * tensors (from a weights file, format.h), checking names, shapes and
 * dtypes (missing, unexpected, mis-shaped, all reported); `where` names
 * their source in the message. The model shares their
 * storage. 0, or -1 with e set and the model unchanged. */
int model_bind_tensors(struct model *m, const char *const *names,
		       const struct tensor *const *tensors, int n, const char *where,
		       struct error *e);
/* The tensor a state_dict names ("layer1.0.conv1.weight"), or NULL;
 * *owner (may be NULL) gets its module. */
struct param *model_find_param(const struct model *m, const char *name, struct module **owner);
/* A model whose tree comes from dotted tensor names alone (types "Module",
 * no forward), sharing the tensors' storage; named after path. */
struct model *model_from_tensor_names(const char *path, const char *const *names,
				      const struct tensor *const *tensors, int n);

#endif

#!/bin/sh
# test_forward_nodes.sh - the function nodes of a forward: listed in order
# with their shapes by `show` (and the details pane), the node a shape break
# stops at marked, modules inserted before and after them ("insert after
# layer1.0:add ReLU"), and a function node replaced by a module ("replace
# :tanh GELU").
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
out="$builddir/tests/out/forward_nodes"
model="$srcdir/models/resnet18.json"
rm -rf "$out"
mkdir -p "$out"
. "$srcdir/tests/cli-lib.sh"

expect show 0 "$graft" edit "$model" -e "show layer1.0"
has show out "  forward:"
has show out "  add                  add()                    [1, 64, 56, 56]"
has show out "  relu_1               relu                     [1, 64, 56, 56]"
done_ show

# the break names layer1.0:add, and show marks that node
expect break 1 "$graft" edit "$model" --keep-going \
	-e "replace layer1.0.conv2 Conv2d in_channels=64 out_channels=32 kernel_size=3 padding=1 bias=False" \
	-e "replace layer1.0.bn2 BatchNorm2d num_features=32" -e "show layer1.0"
has break err "layer1.0:add: cannot broadcast"
has break out "  add                  add()                    <- the shape break"
has break out "  relu_1               relu                     --"
done_ break

expect insert 0 "$graft" edit "$model" -e "insert after layer1.0:add ReLU" \
	-e "insert before layer1.0:add Dropout p=0.1 name=drop" -e "show layer1.0" -o "$out/r.json"
has insert out "inserted layer1.0.add_post: ReLU after layer1.0:add"
has insert out "  drop                 drop                     [1, 64, 56, 56]"
has insert out "  add_post             add_post                 [1, 64, 56, 56]"
done_ insert
expect insert_runs 0 "$graft" summary "$out/r.json"
has insert_runs out "add_post"
done_ insert_runs

expect no_node 2 "$graft" edit "$model" -e "insert after layer1.0:mul ReLU"
has no_node err "layer1.0:mul (BasicBlock) has no forward node 'mul' (show lists them)"
done_ no_node
expect no_graph 2 "$graft" edit "$model" -e "insert after layer1:add ReLU"
has no_graph err "it runs its children in order"
done_ no_graph
expect after_output 2 "$graft" edit "$model" -e "insert after layer1.0:output ReLU"
has after_output err "nothing runs after the output node"
done_ after_output

# a function node replaced by a module, called on its one tensor
lenet="$srcdir/tests/data/user/lenet5"
expect replace 0 "$graft" edit "$lenet.safetensors" -e "replace :tanh GELU" \
	-e "replace :max_pool2d MaxPool2d kernel_size=2" -o "$out/l.safetensors"
has replace out "replaced :tanh: tanh() -> tanh GELU"
has replace out "+ max_pool2d: MaxPool2d k2 s2"
done_ replace
expect replace_runs 0 "$graft" run "$out/l.safetensors" --input "$lenet.x.npy"
has replace_runs out "output [2, 10]"
done_ replace_runs
expect replace_binary 2 "$graft" edit "$model" -e "replace layer1.0:add ReLU"
has replace_binary err "add() does not take exactly one tensor"
done_ replace_binary
expect replace_module_node 2 "$graft" edit "$model" -e "replace layer1.0:conv1 ReLU"
has replace_module_node err "only a function node is replaced this way (replace the module it calls)"
done_ replace_module_node
finish

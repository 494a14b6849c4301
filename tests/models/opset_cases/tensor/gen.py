import numpy as np, onnx, os, shutil
from onnx import helper, numpy_helper, TensorProto as TP
root=os.path.dirname(os.path.abspath(__file__))
shutil.rmtree(root, ignore_errors=True)
rng=np.random.default_rng(0)
NP2TP={np.float32:TP.FLOAT,np.int64:TP.INT64,np.int32:TP.INT32,np.bool_:TP.BOOL,np.float64:TP.DOUBLE}
def vi(name, arr):
    return helper.make_tensor_value_info(name, NP2TP[arr.dtype.type], arr.shape)
def case(name, opset, op, inputs, outputs, attrs={}, inits={}, in_names=None):
    """inputs: list of (name, array) fed at run time; inits: name->array initializers; in_names: node input order."""
    in_names = in_names or [n for n,_ in inputs]
    node=helper.make_node(op, in_names, [n for n,_ in outputs], **attrs)
    g=helper.make_graph([node], name, [vi(n,a) for n,a in inputs], [vi(n,a) for n,a in outputs],
                        initializer=[numpy_helper.from_array(a, n) for n,a in inits.items()])
    m=helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version=8
    d=os.path.join(root,name); os.makedirs(d+'/test_data_set_0')
    onnx.save(m, d+'/model.onnx')
    for i,(n,a) in enumerate(inputs):
        open(f'{d}/test_data_set_0/input_{i}.pb','wb').write(numpy_helper.from_array(a,n).SerializeToString())
    for i,(n,a) in enumerate(outputs):
        open(f'{d}/test_data_set_0/output_{i}.pb','wb').write(numpy_helper.from_array(a,n).SerializeToString())

x345=rng.standard_normal((3,4,5)).astype(np.float32)
I=lambda *v: np.array(v, dtype=np.int64)
case('slice_v1', 9, 'Slice', [('x',x345)], [('y',x345[1:, :, -3:-1])], dict(starts=[1,-3], ends=[100,-1], axes=[0,2]))
case('slice_v1_noaxes', 1, 'Slice', [('x',x345)], [('y',x345[0:2, 1:1000])], dict(starts=[0,1], ends=[2,1000]))
case('slice_negsteps', 13, 'Slice', [('x',x345),('s',I(-1,10)),('e',I(-100,0)),('a',I(1,2)),('st',I(-2,-3))],
     [('y',x345[:, -1:-100:-2, 10:0:-3])])
case('slice_int64min', 13, 'Slice', [('x',x345),('s',I(-1)),('e',I(-2**63)),('a',I(-1)),('st',I(-1))], [('y',x345[:, :, ::-1])])
case('slice_const', 13, 'Slice', [('x',x345)], [('y',x345[:, 3:0:-1, 1:5:2])], inits={'s':I(3,1),'e':I(0,9),'a':I(1,2),'st':I(-1,2)}, in_names=['x','s','e','a','st'])
case('slice_empty_negstep', 13, 'Slice', [('x',x345),('s',I(0)),('e',I(3)),('a',I(0)),('st',I(-1))], [('y',x345[0:3:-1])])
x7=np.arange(7,dtype=np.float32)
case('split18_uneven', 18, 'Split', [('x',x7)], [('a',x7[:3]),('b',x7[3:6]),('c',x7[6:])], dict(num_outputs=3))
case('split11_attr', 11, 'Split', [('x',x7)], [('a',x7[:2]),('b',x7[2:])], dict(split=[2,5]))
case('split1_input', 1, 'Split', [('x',x7),('s',I(4,3))], [('a',x7[:4]),('b',x7[4:])])
case('split13_equal', 13, 'Split', [('x',x345)], [('a',x345[:,:2]),('b',x345[:,2:])], dict(axis=1))
x23=rng.standard_normal((2,3)).astype(np.float32)
case('pad18_axes', 18, 'Pad', [('x',x23),('p',I(1,2)),('v',np.array(2.5,np.float32)),('ax',I(-1))], [('y',np.pad(x23,((0,0),(1,2)),constant_values=2.5))])
case('pad19_wrap', 19, 'Pad', [('x',x23),('p',I(0,1,0,2))], [('y',np.pad(x23,((0,0),(1,2)),'wrap'))], dict(mode='wrap'))
x4=np.arange(4,dtype=np.float32).reshape(1,4)
case('pad_reflect_big', 13, 'Pad', [('x',x4),('p',I(0,5,0,6))], [('y',np.pad(x4,((0,0),(5,6)),'reflect'))], dict(mode='reflect'))
case('pad_edge_neg', 13, 'Pad', [('x',x345),('p',I(0,-1,2,1,-2,0))], [('y',np.pad(x345[:,1:-2,:],((0,1),(0,0),(2,0)),'edge'))], dict(mode='edge'))
case('pad_const_neg', 11, 'Pad', [('x',x345),('p',I(-1,1,0,0,2,-3))], [('y',np.pad(x345[1:,:,:2],((0,0),(1,2),(0,0)),constant_values=0))])
case('pad2_attr', 2, 'Pad', [('x',x23)], [('y',np.pad(x23,((1,0),(0,2)),constant_values=-1.5))], dict(pads=[1,0,0,2], value=-1.5))
case('pad11_constinit', 11, 'Pad', [('x',x23)], [('y',np.pad(x23,((1,0),(0,2)),constant_values=7))], inits={'p':I(1,0,0,2),'v':np.array(7,np.float32)}, in_names=['x','p','v'])
xi=np.arange(6,dtype=np.int64).reshape(2,3)
case('pad_int_const', 11, 'Pad', [('x',xi),('p',I(1,0,0,2)),('v',np.array(9,np.int64))], [('y',np.pad(xi,((1,0),(0,2)),constant_values=9))])
# scatter elements max/min
data=rng.standard_normal((3,4)).astype(np.float32); idx=np.array([[0,1,-1,0],[0,2,1,1]],np.int64); upd=rng.standard_normal((2,4)).astype(np.float32)
for red,fn in [('max',np.maximum),('min',np.minimum),('add',np.add),('mul',np.multiply)]:
    out=data.copy()
    for i in range(2):
        for j in range(4):
            r=idx[i,j]%3; out[r,j]=fn(out[r,j],upd[i,j])
    case('scatter_el_'+red, 18, 'ScatterElements', [('d',data),('i',idx),('u',upd)], [('y',out)], dict(reduction=red, axis=0))
idx1=np.array([[0,1,-1,2],[3,2,1,0]],np.int64)
out=data.copy()
for i in range(2):
    for j in range(4): out[i, idx1[i,j]%4]=upd[i,j]
case('scatter_el_axis1', 13, 'ScatterElements', [('d',data),('i',idx1),('u',upd)], [('y',out)], dict(axis=1))
# scatternd
d3=rng.standard_normal((4,3,2)).astype(np.float32); ind=np.array([[1,-1],[3,0],[1,2]],np.int64); up=rng.standard_normal((3,2)).astype(np.float32)
for red,fn in [('max',np.maximum),('min',np.minimum),('add',np.add),('none',None)]:
    if red=='none': ind=np.array([[1,-1],[3,0],[2,2]],np.int64)
    out=d3.copy()
    for q in range(3):
        a,b=ind[q]; 
        out[a,b]=fn(out[a,b],up[q]) if fn else up[q]
    case('scatternd_'+red, 18, 'ScatterND', [('d',d3),('i',ind),('u',up)], [('y',out)], dict(reduction=red) if red!='none' else {})
ind0=np.zeros((2,0),np.int64); up0=rng.standard_normal((2,4,3,2)).astype(np.float32)
case('scatternd_k0', 13, 'ScatterND', [('d',d3),('i',np.zeros((1,0),np.int64)),('u',up0[:1].reshape(1,4,3,2))], [('y',up0[0])])
# gathernd batch_dims 2
gd=rng.standard_normal((2,3,4,5)).astype(np.float32); gi=rng.integers(-4,4,(2,3,6,1)).astype(np.int64)
out=np.zeros((2,3,6,5),np.float32)
for a in range(2):
    for b in range(3):
        for c in range(6): out[a,b,c]=gd[a,b,gi[a,b,c,0]]
case('gathernd_b2', 13, 'GatherND', [('d',gd),('i',gi)], [('y',out)], dict(batch_dims=2))
gi2=np.array([[[1,-1]],[[0,2]]],np.int64)  # (2,1,2), batch 1 over gd[:, ...]? use data (2,3,4)
gd2=gd[:,:,:,0].copy()
out=np.stack([gd2[b][tuple(gi2[b,0])][None] for b in range(2)])
case('gathernd_b1', 12, 'GatherND', [('d',gd2),('i',gi2)], [('y',out)], dict(batch_dims=1))
case('gathernd_full', 11, 'GatherND', [('d',gd2),('i',np.array([[1,2,3],[0,-1,-1]],np.int64))], [('y',np.array([gd2[1,2,3],gd2[0,-1,-1]],np.float32))])
# unique
ux=np.array([[1,0,0],[1,0,0],[2,3,4],[1,0,1],[2,3,4]],np.float32)
def unique_ref(x, axis, sorted_):
    y,idx,inv,cnt=np.unique(x,axis=axis,return_index=True,return_inverse=True,return_counts=True)
    if not sorted_:
        order=np.argsort(idx); rank=np.empty_like(order); rank[order]=np.arange(len(order))
        y=np.take(y,order,axis=0 if axis is None else axis); idx=idx[order]; cnt=cnt[order]; inv=rank[inv]
    return y,idx.astype(np.int64),inv.reshape(-1).astype(np.int64),cnt.astype(np.int64)
for ax in [None,0,1]:
    for s in [0,1]:
        y,i_,v,c=unique_ref(ux,ax,s)
        attrs=dict(sorted=s)
        if ax is not None: attrs['axis']=ax
        case(f'unique_ax{ax}_s{s}', 11, 'Unique', [('x',ux)], [('y',y),('i',i_),('v',v),('c',c)], attrs)
# reshape
z=np.zeros((0,3),np.float32)
case('reshape_allowzero', 14, 'Reshape', [('x',z),('s',I(3,0))], [('y',z.reshape(3,0))], dict(allowzero=1))
case('reshape_const', 13, 'Reshape', [('x',x345)], [('y',x345.reshape(3,20))], inits={'s':I(0,-1)}, in_names=['x','s'])
case('reshape_v1', 1, 'Reshape', [('x',x345)], [('y',x345.reshape(12,5))], dict(shape=[-1,5]))
case('squeeze11', 11, 'Squeeze', [('x',x345.reshape(3,1,4,1,5))], [('y',x345.reshape(3,4,1,5))], dict(axes=[-4]))
case('squeeze13_all', 13, 'Squeeze', [('x',x345.reshape(3,1,4,1,5))], [('y',x345)])
case('unsqueeze11', 11, 'Unsqueeze', [('x',x345)], [('y',x345.reshape(1,3,4,5,1))], dict(axes=[-1,0]))
case('concat_empty', 13, 'Concat', [('a',I(2,3)),('b',np.zeros((0,),np.int64)),('c',I(4))], [('y',I(2,3,4))], dict(axis=0))
case('gather_scalar', 13, 'Gather', [('d',x345),('i',np.array(-1,np.int64))], [('y',x345[:,-1])], dict(axis=1))
case('gather_constidx', 13, 'Gather', [('d',x345)], [('y',x345[:,:, [[4,0],[1,1]]])], dict(axis=2), inits={'i':I(4,0,1,1).reshape(2,2)}, in_names=['d','i'])
case('gather_int32', 13, 'Gather', [('d',x345),('i',np.array([[-1,0]],np.int32))], [('y',x345[[[-1,0]]])], dict(axis=0))
case('range_float', 11, 'Range', [('s',np.array(0,np.float32)),('l',np.array(1,np.float32)),('d',np.array(0.3,np.float32))], [('y',np.arange(np.float32(0),np.float32(1),np.float32(0.3)).astype(np.float32))])
case('range_int64_empty', 11, 'Range', [('s',np.array(5,np.int64)),('l',np.array(1,np.int64)),('d',np.array(2,np.int64))], [('y',np.zeros(0,np.int64))])
case('trilu_const_k', 14, 'Trilu', [('x',x345)], [('y',np.tril(x345,-1))], dict(upper=0), inits={'k':np.array(-1,np.int64)}, in_names=['x','k'])
case('tile_zero', 13, 'Tile', [('x',x23),('r',I(0,2))], [('y',np.tile(x23,(0,2)))])
x31=rng.standard_normal((3,1)).astype(np.float32)
case('expand_fewer', 13, 'Expand', [('x',x31),('s',I(4))], [('y',np.broadcast_to(x31,(3,4)).copy())])
case('expand_ones', 13, 'Expand', [('x',x23),('s',I(2,1,1))], [('y',np.broadcast_to(x23,(2,2,3)).copy())])
case('cos_int64', 9, 'ConstantOfShape', [('s',I(2,3))], [('y',np.full((2,3),-7,np.int64))], dict(value=numpy_helper.from_array(np.array([-7],np.int64),'value')))
case('cos_scalar', 9, 'ConstantOfShape', [('s',np.zeros(0,np.int64))], [('y',np.array(0,np.float32))])
case('eyelike_neg_k', 9, 'EyeLike', [('x',np.zeros((3,5),np.int32))], [('y',np.eye(3,5,k=-1,dtype=np.int32))], dict(k=-1))
case('eyelike_bool', 9, 'EyeLike', [('x',np.zeros((4,2),np.float32))], [('y',np.eye(4,2,k=1,dtype=np.bool_))], dict(k=1, dtype=TP.BOOL))
oi=np.array([[1,-2],[5,0]],np.int64)
oh=np.zeros((2,4,2),np.float32)+2; 
for a in range(2):
    for b in range(2):
        v=oi[a,b]; v=v+4 if v<0 else v
        if 0<=v<4: oh[a,v,b]=5
case('onehot_const_depth', 11, 'OneHot', [('i',oi),('v',np.array([2,5],np.float32))], [('y',oh)], dict(axis=1), inits={'d':np.array(4,np.int64)}, in_names=['i','d','v'])
case('nonzero_int', 13, 'NonZero', [('x',np.array([[0,3,0],[1,0,2]],np.int32))], [('y',np.array(np.nonzero(np.array([[0,3,0],[1,0,2]]))).astype(np.int64))])
case('shape_slice', 15, 'Shape', [('x',x345)], [('y',I(4))], dict(start=-2, end=-1))
case('size_int', 13, 'Size', [('x',xi)], [('y',np.array(6,np.int64))])
case('flatten9', 9, 'Flatten', [('x',x345)], [('y',x345.reshape(12,5))], dict(axis=2))
case('transpose_perm', 13, 'Transpose', [('x',x345)], [('y',x345.transpose(1,2,0))], dict(perm=[1,2,0]))
case('compress_noaxis', 11, 'Compress', [('x',x23),('c',np.array([0,1,1,0,1],np.bool_))], [('y',x23.reshape(-1)[[1,2,4]])])
case('scatter9', 9, 'Scatter', [('d',data),('i',np.array([[0,1,2,0]],np.int64)),('u',upd[:1])], [('y',(lambda o:(o.__setitem__((np.array([0,1,2,0]),np.arange(4)),upd[0]),o)[1])(data.copy()))])
dsp=rng.standard_normal((1,8,2,3)).astype(np.float32)
case('depthtospace_v1', 1, 'DepthToSpace', [('x',dsp)], [('y',dsp.reshape(1,2,2,2,2,3).transpose(0,3,4,1,5,2).reshape(1,2,4,6))], dict(blocksize=2))
print('ok', len(os.listdir(root)))

"""Extra conformance cases for dtypes/variants the ONNX 1.12 suite lacks (fp16, ints, opset 18)."""
import os, sys, json, shutil
import numpy as np, onnx, torch
from onnx import helper, numpy_helper, TensorProto as TP

OUT = sys.argv[1]
rng = np.random.default_rng(0)
NP2TP = {np.float32: TP.FLOAT, np.float16: TP.FLOAT16, np.int32: TP.INT32, np.int64: TP.INT64,
         np.uint8: TP.UINT8, np.int8: TP.INT8, np.float64: TP.DOUBLE, np.bool_: TP.BOOL}

def case(name, op, inputs, outputs, attrs=None, opset=13, tol=None, const_inputs=()):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d + '/test_data_set_0')
    in_names = [n for n, _ in inputs]
    node = helper.make_node(op, in_names, [n for n, _ in outputs], **(attrs or {}))
    inits, gin = [], []
    for n, v in inputs:
        if n == '':
            continue
        if n in const_inputs:
            inits.append(numpy_helper.from_array(v, n))
        else:
            gin.append(helper.make_tensor_value_info(n, NP2TP[v.dtype.type], v.shape))
    gout = [helper.make_tensor_value_info(n, NP2TP[v.dtype.type], None) for n, v in outputs]
    g = helper.make_graph([node], name, gin, gout, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 8
    onnx.save(m, d + '/model.onnx')
    i = 0
    for n, v in inputs:
        if n == '' or n in const_inputs:
            continue
        open(f'{d}/test_data_set_0/input_{i}.pb', 'wb').write(numpy_helper.from_array(v, n).SerializeToString()); i += 1
    for i, (n, v) in enumerate(outputs):
        open(f'{d}/test_data_set_0/output_{i}.pb', 'wb').write(numpy_helper.from_array(v, n).SerializeToString())
    if tol:
        json.dump(tol, open(d + '/data.json', 'w'))

T = lambda a: torch.from_numpy(np.ascontiguousarray(a)).double()
# float16 cases: exact on the CPU (computed in float32 and rounded, like the reference);
# cuBLAS/cuDNN accumulate in float16 on the GPU. The CPU keeps the default 1e-3 / 1e-5.
H = {'cuda': {'rtol': 1e-2, 'atol': 1e-2}}
f16 = lambda *s: rng.standard_normal(s).astype(np.float16)

a, b = f16(4, 8, 32), f16(32, 16)
case('x_matmul_fp16', 'MatMul', [('a', a), ('b', b)], [('y', (T(a) @ T(b)).numpy().astype(np.float16))], tol=H)
a, b, c = f16(8, 32), f16(16, 32), f16(16)
case('x_gemm_fp16_bias', 'Gemm', [('a', a), ('b', b), ('c', c)], [('y', (T(a) @ T(b).T + T(c)).numpy().astype(np.float16))], {'transB': 1}, tol=H)
c2 = f16(1, 16)
case('x_gemm_fp16_rowbias_alpha', 'Gemm', [('a', a), ('b', b), ('c', c2)], [('y', (0.5 * T(a) @ T(b).T + 2 * T(c2)).numpy().astype(np.float16))], {'transB': 1, 'alpha': 0.5, 'beta': 2.0}, tol=H)
case('x_gemm_fp16_nobias_alpha', 'Gemm', [('a', a), ('b', b)], [('y', (0.5 * T(a) @ T(b).T).numpy().astype(np.float16))], {'transB': 1, 'alpha': 0.5}, tol=H)
ai, bi, ci = rng.integers(-50, 50, (5, 7)).astype(np.int32), rng.integers(-50, 50, (7, 3)).astype(np.int32), rng.integers(-50, 50, (3,)).astype(np.int32)
case('x_gemm_int32', 'Gemm', [('a', ai), ('b', bi), ('c', ci)], [('y', (ai.astype(np.int64) @ bi + ci).astype(np.int32))])
case('x_matmul_int32_batched', 'MatMul', [('a', rng.integers(-9, 9, (2, 5, 7)).astype(np.int32)), ('b', bi)], [('y', np.zeros(1, np.int32))])
ab = rng.integers(-9, 9, (2, 5, 7)).astype(np.int32)
case('x_matmul_int32_batched', 'MatMul', [('a', ab), ('b', bi)], [('y', (ab @ bi).astype(np.int32))])
av = rng.integers(-9, 9, (7,)).astype(np.int64)
case('x_matmul_int64_vec', 'MatMul', [('a', av), ('b', bi.astype(np.int64))], [('y', av @ bi.astype(np.int64))])
A = rng.integers(0, 255, (4, 300)).astype(np.uint8); B = rng.integers(-128, 127, (300, 5)).astype(np.int8)
azp = rng.integers(0, 255, (4,)).astype(np.uint8); bzp = rng.integers(-128, 127, (5,)).astype(np.int8)
case('x_matmulinteger_rows', 'MatMulInteger', [('A', A), ('B', B), ('azp', azp), ('bzp', bzp)],
     [('y', ((A.astype(np.int64) - azp[:, None]) @ (B.astype(np.int64) - bzp)).astype(np.int32))], opset=10)

x = f16(4, 6, 33)
for ax in (-1, 1):
    case(f'x_softmax_fp16_ax{ax}', 'Softmax', [('x', x)], [('y', torch.softmax(T(x), ax).numpy().astype(np.float16))], {'axis': ax}, tol=H)
case('x_softmax11_fp16_ax1', 'Softmax', [('x', x)], [('y', torch.softmax(T(x).reshape(4, -1), 1).reshape(x.shape).numpy().astype(np.float16))], {'axis': 1}, opset=11, tol=H)
case('x_logsoftmax_fp16', 'LogSoftmax', [('x', x)], [('y', torch.log_softmax(T(x), -1).numpy().astype(np.float16))], tol=H)

x, w, bb = f16(3, 5, 64), f16(64), f16(64)
xt = T(x); mu = xt.mean(-1, keepdim=True); var = xt.var(-1, unbiased=False, keepdim=True); rs = 1 / torch.sqrt(var + 1e-5)
y = ((xt - mu) * rs * T(w) + T(bb)).numpy().astype(np.float16)
case('x_layernorm_fp16', 'LayerNormalization', [('x', x), ('w', w), ('b', bb)], [('y', y), ('mean', mu.numpy().astype(np.float32)), ('rstd', rs.numpy().astype(np.float32))], opset=17, tol=H)
case('x_layernorm_fp16_y_only', 'LayerNormalization', [('x', x), ('w', w), ('b', bb)], [('y', y)], opset=17, tol=H)

x = f16(4, 3, 5, 5); s, bi2, m, v = [rng.standard_normal(3).astype(np.float32) for _ in range(4)]; v = np.abs(v) + 0.5
ref = lambda s, b, m, v: ((T(x) - T(m)[:, None, None]) / torch.sqrt(T(v)[:, None, None] + 1e-5) * T(s)[:, None, None] + T(b)[:, None, None]).numpy().astype(np.float16)
case('x_batchnorm_fp16_fp32params', 'BatchNormalization', [('x', x), ('s', s), ('b', bi2), ('m', m), ('v', v)], [('y', ref(s, bi2, m, v))], opset=15, tol=H)
p16 = [p.astype(np.float16) for p in (s, bi2, m, v)]
case('x_batchnorm_fp16', 'BatchNormalization', [('x', x), ('s', p16[0]), ('b', p16[1]), ('m', p16[2]), ('v', p16[3])], [('y', ref(*p16))], opset=15, tol=H)

xi = rng.integers(-100, 100, (3, 4, 5)).astype(np.int32)
case('x_reducesum_int32', 'ReduceSum', [('x', xi), ('axes', np.array([0, 2], np.int64))], [('y', xi.sum((0, 2), keepdims=True).astype(np.int32))])
case('x_reduceprod_int64', 'ReduceProd', [('x', (xi % 3).astype(np.int64))], [('y', (xi % 3).astype(np.int64).prod((0, 2)))], {'axes': [0, 2], 'keepdims': 0})
case('x_reducemean_int32', 'ReduceMean', [('x', xi)], [('y', np.trunc(xi.mean(1)).astype(np.int32))], {'axes': [1], 'keepdims': 0})
e = np.zeros((2, 0, 4), np.float32)
case('x_reducemax_empty_set', 'ReduceMax', [('x', e), ('axes', np.array([1], np.int64))], [('y', np.full((2, 1, 4), -np.inf, np.float32))], opset=18, const_inputs=('axes',))
case('x_reducemin_empty_set', 'ReduceMin', [('x', e), ('axes', np.array([1], np.int64))], [('y', np.full((2, 1, 4), np.inf, np.float32))], opset=18, const_inputs=('axes',))
case('x_reducel2_empty_set', 'ReduceL2', [('x', e), ('axes', np.array([1], np.int64))], [('y', np.zeros((2, 1, 4), np.float32))], opset=18, const_inputs=('axes',))
case('x_reducelogsumexp_empty_set', 'ReduceLogSumExp', [('x', e), ('axes', np.array([1], np.int64))], [('y', np.full((2, 1, 4), -np.inf, np.float32))], opset=18, const_inputs=('axes',))
case('x_reduceprod_empty_set', 'ReduceProd', [('x', e), ('axes', np.array([1], np.int64))], [('y', np.ones((2, 1, 4), np.float32))], opset=18, const_inputs=('axes',))
xf = rng.standard_normal((3, 4, 5)).astype(np.float32)
case('x_reducesumsquare18', 'ReduceSumSquare', [('x', xf), ('axes', np.array([-1], np.int64))], [('y', (xf ** 2).sum(-1, keepdims=True))], opset=18)
case('x_reducemax18_noaxes', 'ReduceMax', [('x', xf)], [('y', xf.max(keepdims=True))], opset=18)

xt_ = np.array([[3, 1, 3, 2, 3, 1]], np.float32)
case('x_topk_ties_largest', 'TopK', [('x', xt_), ('k', np.array([4], np.int64))], [('v', np.array([[3, 3, 3, 2]], np.float32)), ('i', np.array([[0, 2, 4, 3]], np.int64))])
case('x_topk_ties_smallest', 'TopK', [('x', xt_), ('k', np.array([3], np.int64))], [('v', np.array([[1, 1, 2]], np.float32)), ('i', np.array([[1, 5, 3]], np.int64))], {'largest': 0})
case('x_argmax_last_ties', 'ArgMax', [('x', xt_)], [('y', np.array([[4]], np.int64))], {'axis': 1, 'select_last_index': 1})
ci = rng.integers(-9, 9, (3, 5)).astype(np.int32)
ref = np.flip(np.cumsum(np.flip(ci, 1), 1), 1) - ci
case('x_cumsum_int32_rev_excl', 'CumSum', [('x', ci), ('axis', np.array(1, np.int32))], [('y', ref.astype(np.int32))], {'exclusive': 1, 'reverse': 1}, opset=14)

x = rng.standard_normal((2, 6, 4, 4)).astype(np.float32); gs, gb = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
xg = T(x).reshape(2, 3, -1); mu = xg.mean(-1, keepdim=True); var = xg.var(-1, unbiased=False, keepdim=True)
yg = ((xg - mu) / torch.sqrt(var + 1e-5)).reshape(2, 3, 2, 4, 4) * T(gs)[:, None, None, None] + T(gb)[:, None, None, None]
case('x_groupnorm18', 'GroupNormalization', [('x', x), ('s', gs), ('b', gb)], [('y', yg.reshape(x.shape).numpy().astype(np.float32))], {'num_groups': 3}, opset=18)
case('x_lpnorm_p1', 'LpNormalization', [('x', xf)], [('y', xf / np.abs(xf).sum(1, keepdims=True))], {'axis': 1, 'p': 1}, opset=1)
dm = rng.standard_normal((2, 3, 3)).astype(np.float16)
case('x_det_fp16', 'Det', [('x', dm)], [('y', np.linalg.det(dm.astype(np.float64)).astype(np.float16))], opset=11, tol=H)
x = rng.standard_normal((4, 5)).astype(np.float32); tgt = np.array([1, 0, 4, 2], np.int64)
lp = torch.log_softmax(T(x), 1)
case('x_sce_none_noii', 'SoftmaxCrossEntropyLoss', [('x', x), ('t', tgt)], [('l', (-lp[torch.arange(4), torch.from_numpy(tgt)]).numpy().astype(np.float32))], {'reduction': 'none'})

import os, shutil, numpy as np, torch, onnx
from onnx import helper, TensorProto, numpy_helper as nh
import torch.nn.functional as F
R = os.path.dirname(os.path.abspath(__file__))
shutil.rmtree(R, ignore_errors=True)
rng = np.random.default_rng(0)
def save(name, node_or_nodes, inputs, outputs, opset, initializers=()):
    d = os.path.join(R, name); os.makedirs(d + '/test_data_set_0')
    nodes = node_or_nodes if isinstance(node_or_nodes, list) else [node_or_nodes]
    def vi(n, a): return helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype) if hasattr(helper,'np_dtype_to_tensor_dtype') else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
    g = helper.make_graph(nodes, name, [vi(n, a) for n, a in inputs], [vi(n, a) for n, a in outputs],
                          initializer=[nh.from_array(a, n) for n, a in initializers])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 8
    onnx.save(m, d + '/model.onnx')
    for i, (n, a) in enumerate(inputs):
        open(f'{d}/test_data_set_0/input_{i}.pb', 'wb').write(nh.from_array(a, n).SerializeToString())
    for i, (n, a) in enumerate(outputs):
        open(f'{d}/test_data_set_0/output_{i}.pb', 'wb').write(nh.from_array(a, n).SerializeToString())
f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

# ---- LSTM bidirectional with sequence lengths and initial states, vs torch
T, B, I, H = 5, 3, 4, 6
lstm = torch.nn.LSTM(I, H, bidirectional=True)
x = f32(T, B, I); lens = np.array([5, 3, 1], dtype=np.int32)
h0 = f32(2, B, H); c0 = f32(2, B, H)
def reorder_lstm(w):  # torch i f g o -> onnx i o f c
    i, f, g, o = np.split(w, 4, axis=0); return np.concatenate([i, o, f, g], 0)
W = np.stack([reorder_lstm(lstm.weight_ih_l0.detach().numpy()), reorder_lstm(lstm.weight_ih_l0_reverse.detach().numpy())])
Rr = np.stack([reorder_lstm(lstm.weight_hh_l0.detach().numpy()), reorder_lstm(lstm.weight_hh_l0_reverse.detach().numpy())])
Bb = np.stack([np.concatenate([reorder_lstm(lstm.bias_ih_l0.detach().numpy()), reorder_lstm(lstm.bias_hh_l0.detach().numpy())]),
               np.concatenate([reorder_lstm(lstm.bias_ih_l0_reverse.detach().numpy()), reorder_lstm(lstm.bias_hh_l0_reverse.detach().numpy())])])
packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lens.astype(np.int64)), enforce_sorted=True)
with torch.no_grad():
    out, (hn, cn) = lstm(packed, (torch.from_numpy(h0), torch.from_numpy(c0)))
y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
Y = y.numpy().reshape(T, B, 2, H).transpose(0, 2, 1, 3).copy()
save('lstm_bidir_seqlens', helper.make_node('LSTM', ['X','W','R','B','L','H0','C0'], ['Y','Yh','Yc'], hidden_size=H, direction='bidirectional'),
     [('X', x), ('W', W.astype(np.float32)), ('R', Rr.astype(np.float32)), ('B', Bb.astype(np.float32)), ('L', lens), ('H0', h0), ('C0', c0)],
     [('Y', Y), ('Yh', hn.numpy()), ('Yc', cn.numpy())], 14)

# ---- GRU bidirectional, linear_before_reset=1, layout=1 vs torch
gru = torch.nn.GRU(I, H, bidirectional=True, batch_first=True)
xb = f32(B, T, I); h0 = f32(2, B, H)
def reorder_gru(w):  # torch r z n -> onnx z r h
    r, z, n = np.split(w, 3, axis=0); return np.concatenate([z, r, n], 0)
W = np.stack([reorder_gru(gru.weight_ih_l0.detach().numpy()), reorder_gru(gru.weight_ih_l0_reverse.detach().numpy())])
Rr = np.stack([reorder_gru(gru.weight_hh_l0.detach().numpy()), reorder_gru(gru.weight_hh_l0_reverse.detach().numpy())])
Bb = np.stack([np.concatenate([reorder_gru(gru.bias_ih_l0.detach().numpy()), reorder_gru(gru.bias_hh_l0.detach().numpy())]),
               np.concatenate([reorder_gru(gru.bias_ih_l0_reverse.detach().numpy()), reorder_gru(gru.bias_hh_l0_reverse.detach().numpy())])])
with torch.no_grad():
    out, hn = gru(torch.from_numpy(xb), torch.from_numpy(h0))
Y = out.numpy().reshape(B, T, 2, H)
save('gru_bidir_lbr_layout1', helper.make_node('GRU', ['X','W','R','B','','H0'], ['Y','Yh'], hidden_size=H, direction='bidirectional', linear_before_reset=1, layout=1),
     [('X', xb), ('W', W), ('R', Rr), ('B', Bb), ('H0', h0.transpose(1, 0, 2).copy())],
     [('Y', Y), ('Yh', hn.numpy().transpose(1, 0, 2).copy())], 14)

# ---- RNN reverse relu vs torch (run torch on flipped sequence)
rnn = torch.nn.RNN(I, H, nonlinearity='relu')
x = f32(T, B, I)
with torch.no_grad():
    out, hn = rnn(torch.from_numpy(x[::-1].copy()))
Y = out.numpy()[::-1].copy()[:, None]
save('rnn_reverse_relu', helper.make_node('RNN', ['X','W','R','B'], ['Y','Yh'], hidden_size=H, direction='reverse', activations=['Relu']),
     [('X', x), ('W', rnn.weight_ih_l0.detach().numpy()[None]), ('R', rnn.weight_hh_l0.detach().numpy()[None]),
      ('B', np.concatenate([rnn.bias_ih_l0.detach().numpy(), rnn.bias_hh_l0.detach().numpy()])[None])],
     [('Y', Y), ('Yh', hn.numpy())], 14)

# ---- LpPool / GlobalLpPool
x = np.abs(f32(2, 3, 7, 6))
yp = F.lp_pool2d(torch.from_numpy(x), 3.0, (3, 2), stride=(2, 2)).numpy()
save('lppool_p3', helper.make_node('LpPool', ['X'], ['Y'], kernel_shape=[3, 2], strides=[2, 2], p=3), [('X', x)], [('Y', yp)], 11)
x = f32(2, 3, 5, 4)
save('globallppool', helper.make_node('GlobalLpPool', ['X'], ['Y'], p=3), [('X', x)], [('Y', (np.abs(x) ** 3).sum((2, 3), keepdims=True) ** (1 / 3))], 2)

# ---- MaxPool with indices, numpy reference (pads, dilations, ceil, storage_order 0/1, 3D)
def np_maxpool(x, k, s, d, pb, pe, ceil, order):
    N, C = x.shape[:2]; sp = x.shape[2:]; n = len(sp)
    out = []
    for i in range(n):
        eff = (k[i]-1)*d[i]+1; span = sp[i]+pb[i]+pe[i]-eff
        o = (-(-span // s[i]) if ceil else span // s[i]) + 1
        if ceil and (o-1)*s[i] >= sp[i]+pb[i]: o -= 1
        out.append(o)
    Y = np.full((N, C) + tuple(out), -np.inf, np.float32); I = np.zeros((N, C) + tuple(out), np.int64)
    for nn_ in range(N):
        for c in range(C):
            for o in np.ndindex(*out):
                best = -np.inf; bi = 0
                for kk in np.ndindex(*k):
                    pos = [o[i]*s[i] - pb[i] + kk[i]*d[i] for i in range(n)]
                    if all(0 <= pos[i] < sp[i] for i in range(n)):
                        v = x[(nn_, c) + tuple(pos)]
                        if v > best:
                            best = v
                            if order == 0: flat = np.ravel_multi_index(pos, sp)
                            else: flat = np.ravel_multi_index(pos, sp, order='F')
                            bi = (nn_*C + c) * int(np.prod(sp)) + flat
                Y[(nn_, c) + o] = best; I[(nn_, c) + o] = bi
    return Y, I
x = f32(2, 2, 7, 8)
Y, I = np_maxpool(x, [3, 3], [2, 2], [1, 1], [1, 0], [2, 1], True, 0)
save('maxpool_idx_asym_ceil', helper.make_node('MaxPool', ['X'], ['Y', 'I'], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 2, 1], ceil_mode=1), [('X', x)], [('Y', Y), ('I', I)], 12)
Y, I = np_maxpool(x, [2, 3], [1, 2], [2, 1], [1, 1], [1, 1], False, 1)
save('maxpool_idx_dil_colmajor', helper.make_node('MaxPool', ['X'], ['Y', 'I'], kernel_shape=[2, 3], strides=[1, 2], dilations=[2, 1], pads=[1, 1, 1, 1], storage_order=1), [('X', x)], [('Y', Y), ('I', I)], 12)
x3 = f32(1, 2, 5, 4, 6)
Y, I = np_maxpool(x3, [2, 2, 3], [2, 1, 2], [1, 1, 1], [0, 1, 1], [1, 0, 1], False, 1)
save('maxpool3d_idx_colmajor', helper.make_node('MaxPool', ['X'], ['Y', 'I'], kernel_shape=[2, 2, 3], strides=[2, 1, 2], pads=[0, 1, 1, 1, 0, 1], storage_order=1), [('X', x3)], [('Y', Y), ('I', I)], 12)

# ---- AveragePool with dilations (opset 19), numpy reference
def np_avgpool(x, k, s, d, pb, pe, include_pad):
    sp = x.shape[2:]; n = len(sp); out = [(sp[i]+pb[i]+pe[i]-((k[i]-1)*d[i]+1))//s[i]+1 for i in range(n)]
    Y = np.zeros(x.shape[:2] + tuple(out), np.float32)
    for o in np.ndindex(*out):
        acc = 0; cnt = 0
        for kk in np.ndindex(*k):
            pos = [o[i]*s[i]-pb[i]+kk[i]*d[i] for i in range(n)]
            inside = all(0 <= pos[i] < sp[i] for i in range(n))
            if inside: acc = acc + x[(slice(None), slice(None)) + tuple(pos)]; cnt += 1
            elif include_pad: cnt += 1
        Y[(slice(None), slice(None)) + o] = acc / cnt
    return Y
x = f32(2, 3, 8, 7)
save('avgpool_dilations', helper.make_node('AveragePool', ['X'], ['Y'], kernel_shape=[3, 2], strides=[1, 2], dilations=[2, 2], pads=[1, 2, 2, 1]),
     [('X', x)], [('Y', np_avgpool(x, [3, 2], [1, 2], [2, 2], [1, 2], [2, 1], False))], 19)
save('avgpool_dilations_incl', helper.make_node('AveragePool', ['X'], ['Y'], kernel_shape=[3, 2], strides=[1, 2], dilations=[2, 2], pads=[1, 2, 2, 1], count_include_pad=1),
     [('X', x)], [('Y', np_avgpool(x, [3, 2], [1, 2], [2, 2], [1, 2], [2, 1], True))], 19)
save('avgpool_bigpad', helper.make_node('AveragePool', ['X'], ['Y'], kernel_shape=[2, 2], pads=[2, 0, 0, 2], count_include_pad=1),
     [('X', x)], [('Y', np_avgpool(x, [2, 2], [1, 1], [1, 1], [2, 0], [0, 2], True))], 11)

# ---- ConvTranspose with group, dilation, output_padding >= stride, asymmetric pads
x = f32(1, 4, 5, 4); w = f32(4, 3, 3, 2); b = f32(6)
full = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), None, stride=(2, 1), dilation=(2, 3), groups=2).numpy()
# pads [1,0,0,2], output_padding [1, 0]
out = np.pad(full, ((0, 0), (0, 0), (0, 1), (0, 0)))[:, :, 1:, 0:full.shape[3]-2] + b[None, :, None, None]
save('convtranspose_group_asym', helper.make_node('ConvTranspose', ['X', 'W', 'B'], ['Y'], strides=[2, 1], dilations=[2, 3], group=2, pads=[1, 0, 0, 2], output_padding=[1, 0]),
     [('X', x), ('W', w), ('B', b)], [('Y', out.astype(np.float32))], 11)

# ---- Conv 3D with SAME_UPPER, group
x = f32(1, 4, 6, 5, 7); w = f32(6, 2, 3, 2, 3); b = f32(6)
xp = F.pad(torch.from_numpy(x), (1, 1, 0, 1, 0, 1))  # W: eff 3, in 7 stride 2 -> out 4 total (3)*2+3-7=2 -> 1,1; H: in5 s1 k2 -> total 1 -> 0,1 ; D: in6 s2 k3 -> out 3, total 2*2+3-6=1 -> 0,1
y = F.conv3d(xp, torch.from_numpy(w), torch.from_numpy(b), stride=(2, 1, 2), groups=2).numpy()
save('conv3d_same_upper_group', helper.make_node('Conv', ['X', 'W', 'B'], ['Y'], strides=[2, 1, 2], group=2, auto_pad='SAME_UPPER'),
     [('X', x), ('W', w), ('B', b)], [('Y', y)], 11)

# ---- ConvInteger with per-channel weight zero point
x = rng.integers(0, 255, (1, 3, 5, 5)).astype(np.uint8); w = rng.integers(-128, 127, (4, 3, 3, 3)).astype(np.int8)
xz = np.array(7, np.uint8); wz = np.array([1, -2, 3, 0], np.int8)
y = F.conv2d(torch.from_numpy(x.astype(np.float64) - 7), torch.from_numpy(w.astype(np.float64) - wz[:, None, None, None]), padding=1).numpy().round().astype(np.int32)
save('convinteger_perchannel', helper.make_node('ConvInteger', ['X', 'W', 'XZ', 'WZ'], ['Y'], pads=[1, 1, 1, 1]),
     [('X', x), ('W', w), ('XZ', xz), ('WZ', wz)], [('Y', y)], 10)

# ---- Resize antialias vs torch (opset 18)
x = f32(1, 2, 13, 17)
for mode, tmode, a in [('linear', 'bilinear', -0.75), ('cubic', 'bicubic', -0.5)]:
    y = F.interpolate(torch.from_numpy(x), size=(5, 7), mode=tmode, align_corners=False, antialias=True).numpy()
    save(f'resize_antialias_{mode}', helper.make_node('Resize', ['X', '', '', 'S'], ['Y'], mode=mode, antialias=1, cubic_coeff_a=a),
         [('X', x), ('S', np.array([1, 2, 5, 7], np.int64))], [('Y', y)], 18)
# axes + keep_aspect_ratio not_larger: sizes for axes [2,3] = [10, 30] -> scale min(10/13, 30/17)=10/13 -> out (10, round(17*10/13)=13)
y = F.interpolate(torch.from_numpy(x), size=(10, 13), mode='nearest').numpy()  # placeholder, recomputed below
sc = 10 / 13
def nearest_idx(out, in_, scale):
    xo = (np.arange(out) + 0.5) / scale - 0.5
    r = np.where(xo - np.floor(xo) == 0.5, np.floor(xo), np.round(xo))
    return np.clip(r, 0, in_ - 1).astype(int)
y = x[:, :, nearest_idx(10, 13, sc)][:, :, :, nearest_idx(13, 17, sc)]
save('resize_axes_notlarger', helper.make_node('Resize', ['X', '', '', 'S'], ['Y'], mode='nearest', axes=[2, 3], keep_aspect_ratio_policy='not_larger'),
     [('X', x), ('S', np.array([10, 30], np.int64))], [('Y', y)], 18)
# bilinear upsample x2 on rank 4 through scales (fast path) and 3-D linear with trilinear
x5 = f32(1, 2, 3, 4, 5)
y = F.interpolate(torch.from_numpy(x5), scale_factor=(2, 1.5, 0.6), mode='trilinear', align_corners=False, recompute_scale_factor=False).numpy()
save('resize_trilinear', helper.make_node('Resize', ['X', '', 'SC'], ['Y'], mode='linear'),
     [('X', x5), ('SC', np.array([1, 1, 2, 1.5, 0.6], np.float32))], [('Y', y)], 13)
# nearest on an integer tensor, general path (factor 3)
xi = rng.integers(0, 100, (1, 1, 3, 4)).astype(np.int32)
save('resize_nearest_int', helper.make_node('Resize', ['X', '', 'SC'], ['Y'], mode='nearest', coordinate_transformation_mode='asymmetric', nearest_mode='floor'),
     [('X', xi), ('SC', np.array([1, 1, 3, 2.5], np.float32))], [('Y', xi[:, :, np.arange(9) // 3][:, :, :, np.floor(np.arange(10) / 2.5).astype(int)])], 13)
# Resize as graph-computed scales (runtime input), upsample x2 nearest
x = f32(1, 3, 4, 5)
save('resize_runtime_scales', helper.make_node('Resize', ['X', '', 'SC'], ['Y'], mode='nearest'),
     [('X', x), ('SC', np.array([1, 1, 2, 2], np.float32))], [('Y', x.repeat(2, 2).repeat(2, 3))], 13)
print('ok')

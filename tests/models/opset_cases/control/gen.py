import numpy as np, onnx, os, shutil
from onnx import helper as h, TensorProto as TP, numpy_helper as nh
root=os.path.dirname(os.path.abspath(__file__))
def save(name, graph, inputs, outputs, opset=17, extra_opsets=()):
    d=os.path.join(root,name); shutil.rmtree(d,ignore_errors=True); os.makedirs(d+'/test_data_set_0')
    m=h.make_model(graph, opset_imports=[h.make_opsetid('',opset)]+list(extra_opsets)); m.ir_version=8
    onnx.save(m,d+'/model.onnx')
    for i,(n,a) in enumerate(inputs): open(f'{d}/test_data_set_0/input_{i}.pb','wb').write(nh.from_array(a,n).SerializeToString())
    for i,(n,a) in enumerate(outputs): open(f'{d}/test_data_set_0/output_{i}.pb','wb').write(nh.from_array(a,n).SerializeToString())
def vi(n,dt,shape=None): return h.make_tensor_value_info(n,dt,shape)
rng=np.random.default_rng(0)

# Scan 9+ with axes and directions: input axis 1 reversed, output axis 1 reversed
x=rng.standard_normal((2,3,4)).astype(np.float32); init=np.zeros((2,4),np.float32)
body=h.make_graph([h.make_node('Add',['s','xi'],['s2']), h.make_node('Identity',['s2'],['o'])],'b',
  [vi('s',TP.FLOAT,[2,4]),vi('xi',TP.FLOAT,[2,4])],[vi('s2',TP.FLOAT,[2,4]),vi('o',TP.FLOAT,[2,4])])
n=h.make_node('Scan',['init','x'],['fin','outs'],body=body,num_scan_inputs=1,scan_input_axes=[1],scan_input_directions=[1],scan_output_axes=[-1],scan_output_directions=[1])
g=h.make_graph([n],'g',[vi('init',TP.FLOAT,[2,4]),vi('x',TP.FLOAT,[2,3,4])],[vi('fin',TP.FLOAT,None),vi('outs',TP.FLOAT,None)])
acc=[];s=init.copy()
for t in range(3): s=s+x[:,2-t,:]; acc.append(s.copy())
outs=np.stack(acc[::-1],axis=2)
save('scan_axes',g,[('init',init),('x',x)],[('fin',s),('outs',outs)],opset=16)

# Loop without M (while loop on cond): double y until > 100
body=h.make_graph([h.make_node('Mul',['y','two'],['y2']),h.make_node('Less',['y2','lim'],['c'])],'b',
  [vi('i',TP.INT64,[]),vi('cin',TP.BOOL,[]),vi('y',TP.FLOAT,[1])],[vi('c',TP.BOOL,[]),vi('y2',TP.FLOAT,[1])],
  initializer=[nh.from_array(np.array([2],np.float32),'two'),nh.from_array(np.array([100],np.float32),'lim')])
n=h.make_node('Loop',['','cond','y0'],['yf'],body=body)
g=h.make_graph([n],'g',[vi('cond',TP.BOOL,[]),vi('y0',TP.FLOAT,[1])],[vi('yf',TP.FLOAT,[1])])
save('loop_while',g,[('cond',np.array(True)),('y0',np.array([3],np.float32))],[('yf',np.array([192],np.float32))],opset=13)

# Loop with zero trip count and a scan output
body=h.make_graph([h.make_node('Identity',['cin'],['c']),h.make_node('Add',['y','y'],['y2']),h.make_node('Identity',['y2'],['sc'])],'b',
  [vi('i',TP.INT64,[]),vi('cin',TP.BOOL,[]),vi('y',TP.FLOAT,[2])],[vi('c',TP.BOOL,[]),vi('y2',TP.FLOAT,[2]),vi('sc',TP.FLOAT,[2])])
n=h.make_node('Loop',['M','',"y0"],['yf','scans'],body=body)
g=h.make_graph([n],'g',[vi('M',TP.INT64,[]),vi('y0',TP.FLOAT,[2])],[vi('yf',TP.FLOAT,[2]),vi('scans',TP.FLOAT,None)])
save('loop_zero',g,[('M',np.array(0,np.int64)),('y0',np.array([1,2],np.float32))],[('yf',np.array([1,2],np.float32)),('scans',np.zeros((0,2),np.float32))],opset=13)

# Sequence ops chain: SplitToSequence(split scalar) -> SequenceErase(default) -> SequenceInsert(pos -1) -> ConcatFromSequence axis 0
x=np.arange(10,dtype=np.float32).reshape(5,2)
nodes=[h.make_node('SplitToSequence',['x','two'],['s']),h.make_node('SequenceErase',['s'],['s2']),
       h.make_node('SequenceInsert',['s2','z','neg'],['s3']),h.make_node('ConcatFromSequence',['s3'],['y'],axis=0),
       h.make_node('SequenceLength',['s3'],['len'])]
g=h.make_graph(nodes,'g',[vi('x',TP.FLOAT,[5,2]),vi('z',TP.FLOAT,[1,2])],[vi('y',TP.FLOAT,None),vi('len',TP.INT64,[])],
  initializer=[nh.from_array(np.array(2,np.int64),'two'),nh.from_array(np.array(-1,np.int64),'neg')])
z=np.array([[-1,-2]],np.float32)
y=np.concatenate([x[0:2],z,x[2:4]],0)
save('seq_chain',g,[('x',x),('z',z)],[('y',y),('len',np.array(3,np.int64))],opset=13)

# DFT onesided + dft_length, real input
x=rng.standard_normal((2,7,1)).astype(np.float32)
n=h.make_node('DFT',['x','L'],['y'],onesided=1,axis=1)
g=h.make_graph([n],'g',[vi('x',TP.FLOAT,[2,7,1])],[vi('y',TP.FLOAT,None)],initializer=[nh.from_array(np.array(10,np.int64),'L')])
f=np.fft.rfft(x[...,0],n=10,axis=1)
save('dft_onesided',g,[('x',x)],[('y',np.stack([f.real,f.imag],-1).astype(np.float32))])

# STFT complex signal, not onesided, with window
x=rng.standard_normal((1,20,2)).astype(np.float32); w=np.hanning(8).astype(np.float32)
n=h.make_node('STFT',['x','step','w'],['y'],onesided=0)
g=h.make_graph([n],'g',[vi('x',TP.FLOAT,[1,20,2]),vi('w',TP.FLOAT,[8])],[vi('y',TP.FLOAT,None)],initializer=[nh.from_array(np.array(4,np.int64),'step')])
xc=x[...,0]+1j*x[...,1]; fr=np.stack([xc[0,i*4:i*4+8]*w for i in range(4)]); f=np.fft.fft(fr,axis=-1)[None]
save('stft_complex',g,[('x',x),('w',w)],[('y',np.stack([f.real,f.imag],-1).astype(np.float32))])

# QuantizeLinear int8 with rounding half-even and saturation
x=np.array([-300,-2.5,-1.5,-0.5,0.5,1.5,2.5,3.0,300],np.float32)
n=h.make_node('QuantizeLinear',['x','s','zp'],['y'])
g=h.make_graph([n],'g',[vi('x',TP.FLOAT,[9])],[vi('y',TP.INT8,None)],initializer=[nh.from_array(np.array(1,np.float32),'s'),nh.from_array(np.array(1,np.int8),'zp')])
save('quant_int8',g,[('x',x)],[('y',np.clip(np.round(x)+1,-128,127).astype(np.int8))],opset=13)

# DequantizeLinear int32 without zp
x=np.array([-100000,5,123456789],np.int32)
n=h.make_node('DequantizeLinear',['x','s'],['y'])
g=h.make_graph([n],'g',[vi('x',TP.INT32,[3])],[vi('y',TP.FLOAT,None)],initializer=[nh.from_array(np.array(0.5,np.float32),'s')])
save('dequant_int32',g,[('x',x)],[('y',(x.astype(np.float32)*0.5).astype(np.float32))],opset=13)

# Optional empty -> OptionalHasElement false; omitted input opset 18 -> false
nodes=[h.make_node('Optional',[],['o'],type=h.make_tensor_type_proto(TP.FLOAT,[2])),h.make_node('OptionalHasElement',['o'],['b']),
       h.make_node('OptionalHasElement',[],['b2']),h.make_node('Optional',['x'],['o2']),h.make_node('OptionalGetElement',['o2'],['y'])]
g=h.make_graph(nodes,'g',[vi('x',TP.FLOAT,[2])],[vi('b',TP.BOOL,[]),vi('b2',TP.BOOL,[]),vi('y',TP.FLOAT,[2])])
xx=np.array([1,2],np.float32)
save('optional_misc',g,[('x',xx)],[('b',np.array(False)),('b2',np.array(False)),('y',xx)],opset=18)

# Random with seed: shape/dtype only meaningful; check it runs. RandomNormalLike double
# TfIdf TFIDF with weights and IDF
x=np.array([[1,2,1,3],[2,2,3,4]],np.int64)
n=h.make_node('TfIdfVectorizer',['x'],['y'],mode='TFIDF',min_gram_length=1,max_gram_length=2,max_skip_count=1,ngram_counts=[0,3],ngram_indexes=[2,0,1,3],pool_int64s=[1,2,3,1,3],weights=[0.5,2.0,3.0,10.0])
g=h.make_graph([n],'g',[vi('x',TP.INT64,[2,4])],[vi('y',TP.FLOAT,None)])
# counts row0: 1->2,2->1,3->1, (1,3): skip0 none; skip1: (1,1)? pairs skip1: (1,1),(2,3) -> (1,3)? positions (0,2)=(1,1),(1,3)=(2,3); skip0 pairs (1,2),(2,1),(1,3) -> (1,3) once
# row1: 2->2,3->1; bigram (1,3) none
y=np.zeros((2,4),np.float32)
y[0,2]=2*0.5; y[0,0]=1*2; y[0,1]=1*3; y[0,3]=1*10
y[1,0]=2*2; y[1,1]=1*3
save('tfidf_weights',g,[('x',x)],[('y',y)],opset=9)

import numpy as np, onnx, os, shutil, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx import helper as h, TensorProto as TP, numpy_helper as nh
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gen.py')).read().split("rng=np.random")[0])
x=np.ones((2,3),np.float64)
nodes=[h.make_node('RandomUniform',[],['a'],shape=[3,4],seed=1.0,low=5.0,high=6.0),h.make_node('RandomNormalLike',['x'],['b'],dtype=TP.FLOAT),
       h.make_node('RandomUniformLike',['x'],['c']),h.make_node('RandomNormal',[],['d'],shape=[2],dtype=TP.FLOAT16),
       h.make_node('Bernoulli',['x'],['e'],dtype=TP.INT32)]
g=h.make_graph(nodes,'g',[vi('x',TP.DOUBLE,[2,3])],[vi('a',TP.FLOAT,None),vi('b',TP.FLOAT,None),vi('c',TP.DOUBLE,None),vi('d',TP.FLOAT16,None),vi('e',TP.INT32,None)])
save('random_ops',g,[('x',x)],[('a',np.full((3,4),5.5,np.float32)),('b',np.zeros((2,3),np.float32)),('c',np.full((2,3),0.5)),('d',np.zeros(2,np.float16)),('e',np.ones((2,3),np.int32))],opset=15)

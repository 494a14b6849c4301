exec(open("gen.py").read().split("# ---- LSTM")[0].replace("shutil.rmtree(R, ignore_errors=True)",""))
x = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
save('resize_aa_linear_onnxdoc', helper.make_node('Resize', ['X', '', 'SC'], ['Y'], mode='linear', antialias=1),
     [('X', x), ('SC', np.array([1, 1, 0.6, 0.6], np.float32))], [('Y', np.array([[[[2.875, 4.5], [9.375, 11.0]]]], np.float32))], 18)
save('resize_aa_cubic_onnxdoc', helper.make_node('Resize', ['X', '', 'SC'], ['Y'], mode='cubic', antialias=1),
     [('X', x), ('SC', np.array([1, 1, 0.6, 0.6], np.float32))], [('Y', np.array([[[[2.5180721, 4.2858863], [9.1617813, 10.9296045]]]], np.float32))], 18)

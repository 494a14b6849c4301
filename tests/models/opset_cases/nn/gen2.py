exec(open("gen.py").read().split("# ---- LSTM")[0].replace("shutil.rmtree(R, ignore_errors=True)",""))
x = f32(1, 2, 13, 17)
for mode, tmode, a in [('linear', 'bilinear', -0.75), ('cubic', 'bicubic', -0.5)]:
    for size in [(5, 7), (6, 3)]:
        y = F.interpolate(torch.from_numpy(x), size=size, mode=tmode, align_corners=False, antialias=True).numpy()
        save(f'resize_aa_excl_{mode}_{size[0]}', helper.make_node('Resize', ['X', '', '', 'S'], ['Y'], mode=mode, antialias=1, cubic_coeff_a=a, exclude_outside=1),
             [('X', x), ('S', np.array([1, 2] + list(size), np.int64))], [('Y', y)], 18)


BxJf.Ðcÿ{
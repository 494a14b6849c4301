
ByJ²ΔιA
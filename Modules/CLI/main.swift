print("backplane: under construction")

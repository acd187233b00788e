build_test = __df_rule("build_test")

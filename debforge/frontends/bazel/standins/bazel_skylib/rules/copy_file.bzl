copy_file = __df_rule("copy_file")

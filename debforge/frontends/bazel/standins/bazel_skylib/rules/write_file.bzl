write_file = __df_rule("write_file")

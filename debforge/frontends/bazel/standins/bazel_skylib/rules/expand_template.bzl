expand_template = __df_rule("expand_template")

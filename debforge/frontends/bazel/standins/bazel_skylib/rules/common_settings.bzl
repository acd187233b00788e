# @bazel_skylib//rules:common_settings.bzl: build settings are recorded with their build_setting_default;
# a config_setting's flag_values use that default unless the recipe's config sets the flag.
bool_flag = __df_rule("bool_flag")
bool_setting = __df_rule("bool_setting")
int_flag = __df_rule("int_flag")
int_setting = __df_rule("int_setting")
string_flag = __df_rule("string_flag")
string_setting = __df_rule("string_setting")
string_list_flag = __df_rule("string_list_flag")
string_list_setting = __df_rule("string_list_setting")
BuildSettingInfo = provider()

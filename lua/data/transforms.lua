-- data.transforms: the image transforms (lua/image/transforms.lua) under data.
local T = require 'image.transforms'
require('data').transforms = T
return T

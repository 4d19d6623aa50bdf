-- data.transforms: the image transforms (lua/image/transforms.lua) under data.
require('data').transforms = require 'image.transforms'
